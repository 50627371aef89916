/**
 * Named metrics over in-kernel summaries, read from the kernel whenever they
 * are asked for (a scrape, a collection): nothing is streamed, and a reading
 * costs the same whatever the number of events behind it.
 *
 *   const metrics = new MetricSet().add(countBy('syscall:openat'), { name: 'file_opens' });
 *   metrics.exposition();   // file_opens_total{comm="cat"} 3 ...
 *
 * A metric has at most `maxSeries` series: the keys it met first keep their
 * own, later ones are added up in one series whose key labels say `other`,
 * and kprobe_node_series_dropped_total counts how many were. Keeping the
 * first keys (not the largest) keeps every series a counter that only grows.
 */
import { OptionError } from '../errors';
import { CounterFamily, ExpositionFormat, HistogramFamily, Labels, MetricFamily, exposition, labelName, metricName } from '../format/prometheus';
import { Counter, Histogram } from '../summary';

export type KernelSummary = Counter | Histogram;

export interface MetricOptions {
  /**
   * The metric's name in the Prometheus grammar. Counters are exposed as
   * `<name>_total`; latency in seconds, as `<name>_seconds` unless the name
   * already ends so.
   */
  name: string;
  help?: string;
  /** Label names for the key's parts, where the default does not suit: `{ comm: 'command' }`. */
  labels?: Record<string, string>;
  /** Labels every series of this summary carries, e.g. `{ probe: 'syscall:openat' }`. */
  constLabels?: Record<string, string>;
}

export interface MetricSetOptions {
  /** Most series one metric exposes before the rest go to its `other` series (default 1000). */
  maxSeries?: number;
}

/** The families every set adds about itself. */
export const SERIES_DROPPED = 'kprobe_node_series_dropped';
export const EVENTS_LOST = 'kprobe_node_events_lost';

const DEFAULT_MAX_SERIES = 1000;

/** One summary in a metric. */
interface Member {
  summary: KernelSummary;
  help: string;
  /** The key's label name (counts only). */
  keyLabel?: string;
  constLabels: Labels;
}

interface Metric {
  type: 'counter' | 'histogram';
  /** The Prometheus family name: without `_total`, with `_seconds` for latency. */
  name: string;
  /** The name without a unit or `_total`, for OpenTelemetry (which carries the unit apart). */
  baseName: string;
  /** `ns` for latency histograms. */
  unit?: 'ns';
  /** When the metric began counting: the start of OpenTelemetry's cumulative points. */
  startMs: number;
  members: Member[];
  /** Series ids that have a series of their own; at most maxSeries. */
  kept: Set<string>;
  /** Keys added up in `other` at the last reading. */
  dropped: number;
  /** Hits the kernel could not add, at the last reading. */
  lost: number;
}

/** What one metric reads as, with its kernel summaries (OpenTelemetry needs their units and starts). */
export interface MetricReading {
  family: MetricFamily;
  /** The name without a unit or `_total`, as OpenTelemetry names it. */
  baseName: string;
  /** `ns` for latency: the kernel's unit, whose powers of two are the buckets' bounds. */
  unit?: 'ns';
  /** When the metric was added (ms since the epoch): where its cumulative counts start. */
  startMs: number;
}

/**
 * The names a metric goes by: in Prometheus (counters without `_total`, which
 * the samples add; latency ending in `_seconds`) and without a unit or
 * `_total`, for OpenTelemetry.
 */
export function metricNames(name: string, type: 'counter' | 'histogram', unit?: 'ns'): { name: string; baseName: string } {
  let baseName = metricName(name.trim());
  if (type === 'counter') baseName = baseName.replace(/_total$/, '');
  if (unit === 'ns') baseName = baseName.replace(/_seconds$/, '');
  return { name: unit === 'ns' ? `${baseName}_seconds` : baseName, baseName };
}

const seriesId = (labels: Labels) => labels.map(([k, v]) => `${k}\u0000${v}`).join('\u0001');

/** Labels in order, the first of each name kept. */
function uniqueLabels(labels: Labels): Labels {
  const seen = new Set<string>();
  return labels.filter(([k]) => !seen.has(k) && !!seen.add(k));
}

function checkLabels(what: string, labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) throw new OptionError(`${what} must be an object of label names`);
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new OptionError(`${what}.${k} must be a string`);
  }
  return labels as Record<string, string>;
}

/** What a count's key is called: `comm`, `pid`, `probe`, or the expression's name (`flags`, a label). */
function keyPart(c: Counter): string {
  if (c.by === 'comm' || c.by === 'pid' || c.by === 'probe') return c.by;
  return c.probes[0]?.plans[0]?.name ?? c.by;
}

function defaultHelp(s: KernelSummary): string {
  if (s instanceof Counter) return `Hits of ${s.name}, counted by ${s.by} in the kernel`;
  if (s.unit === 'ns') return `Time from entry to return of ${s.name}, in seconds`;
  return `Values of ${s.what} at ${s.name}, in log2 buckets`;
}

export class MetricSet {
  readonly maxSeries: number;
  readonly #metrics = new Map<string, Metric>();

  constructor(opts: MetricSetOptions = {}) {
    const n = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!Number.isInteger(n) || n < 1) throw new OptionError(`maxSeries must be a positive integer, got ${String(n)}`);
    this.maxSeries = n;
  }

  /** Adds a summary as a metric, or as more series of a metric of that name (with other constLabels). */
  add(summary: KernelSummary, opts: MetricOptions): this {
    if (!(summary instanceof Counter) && !(summary instanceof Histogram)) throw new OptionError('a metric needs a summary from countBy(), histogram() or latency()');
    if (!opts || typeof opts.name !== 'string' || opts.name.trim() === '') throw new OptionError('a metric needs a name');
    if (opts.help !== undefined && typeof opts.help !== 'string') throw new OptionError('help must be a string');
    const renames = checkLabels('labels', opts.labels);
    const constLabels = uniqueLabels(Object.entries(checkLabels('constLabels', opts.constLabels)).map(([k, v]) => [labelName(k), v] as const));

    const type = summary instanceof Counter ? 'counter' : 'histogram';
    const unit = summary instanceof Histogram ? summary.unit : undefined;
    const { name, baseName } = metricNames(opts.name, type, unit);
    if (name === SERIES_DROPPED || name === EVENTS_LOST) throw new OptionError(`${name} is a name kprobe-node uses for itself`);
    for (const m of this.#metrics.values()) {
      if (m.members.some((x) => x.summary === summary)) throw new OptionError(`this summary is already metric ${m.name}`);
    }

    const member: Member = {
      summary,
      help: opts.help ?? defaultHelp(summary),
      constLabels,
      keyLabel: summary instanceof Counter ? labelName(renames[keyPart(summary)] ?? keyPart(summary)) : undefined,
    };
    const metric = this.#metrics.get(name);
    if (!metric) {
      this.#metrics.set(name, { type, name, baseName, unit, startMs: Date.now(), members: [member], kept: new Set(), dropped: 0, lost: 0 });
      return this;
    }
    if (metric.type !== type || metric.unit !== unit) throw new OptionError(`metric ${name} is already a ${metric.unit === 'ns' ? 'latency ' : ''}${metric.type}`);
    const id = seriesId(constLabels);
    if (metric.members.some((m) => seriesId(m.constLabels) === id)) {
      throw new OptionError(`metric ${name} already has a summary with these constLabels: give each its own (e.g. { probe })`);
    }
    metric.members.push(member);
    return this;
  }

  /** Takes a summary out (it stays attached: closing it is its owner's business). */
  remove(summary: KernelSummary): void {
    for (const [name, m] of this.#metrics) {
      m.members = m.members.filter((x) => x.summary !== summary);
      if (!m.members.length) this.#metrics.delete(name);
    }
  }

  /** The summaries in the set. */
  get summaries(): KernelSummary[] {
    return [...this.#metrics.values()].flatMap((m) => m.members.map((x) => x.summary));
  }

  /** Every metric, read from the kernel now; then the set's own (dropped series, lost events). */
  families(): MetricFamily[] {
    const read = this.readings().map((r) => r.family);
    return [...read, ...this.ownFamilies().filter((f) => f.series.length)];
  }

  /** Every metric, read now, with what OpenTelemetry needs besides. */
  readings(): MetricReading[] {
    return [...this.#metrics.values()].map((m) => this.read(m));
  }

  /** One metric, read now (undefined when the set has none of that name). */
  reading(name: string): MetricReading | undefined {
    const m = this.#metrics.get(name);
    return m && this.read(m);
  }

  /** Series dropped and events lost per metric, as of each metric's last reading. */
  ownFamilies(): CounterFamily[] {
    const ms = [...this.#metrics.values()];
    return [
      {
        type: 'counter',
        name: SERIES_DROPPED,
        help: 'Keys added up in the metric\'s "other" series because it reached its series limit',
        series: ms.filter((m) => m.type === 'counter').map((m) => ({ labels: [['metric', m.name]], value: m.dropped })),
      },
      {
        type: 'counter',
        name: EVENTS_LOST,
        help: 'Hits the kernel could not add to the metric (its count map was full)',
        series: ms.map((m) => ({ labels: [['metric', m.name]], value: m.lost })),
      },
    ];
  }

  /** The exposition of every metric, in the text format or OpenMetrics. */
  exposition(format: ExpositionFormat = 'prometheus'): string {
    return exposition(this.families(), format);
  }

  private read(m: Metric): MetricReading {
    const family = m.type === 'counter' ? this.readCounts(m) : this.readHistograms(m);
    return { family, baseName: m.baseName, unit: m.unit, startMs: m.startMs };
  }

  private readCounts(m: Metric): CounterFamily {
    const series = new Map<string, { labels: Labels; value: number }>();
    let dropped = 0;
    let lost = 0;
    for (const member of m.members) {
      const snap = (member.summary as Counter).snapshot();
      lost += snap.dropped;
      const key = member.keyLabel as string;
      for (const e of snap) {
        // Strings (comms, string values, enum names) as they are; numbers as the CLI shows them.
        let labels = uniqueLabels([...member.constLabels, [key, typeof e.key === 'string' ? e.key : e.label]]);
        let id = seriesId(labels);
        if (!m.kept.has(id)) {
          if (m.kept.size < this.maxSeries) {
            m.kept.add(id);
          } else {
            dropped++;
            labels = uniqueLabels([...member.constLabels, [key, 'other']]);
            id = seriesId(labels);
          }
        }
        // A key that is itself "other" shares that series: one series per label set, always.
        const s = series.get(id);
        if (s) s.value += e.count;
        else series.set(id, { labels, value: e.count });
      }
    }
    m.dropped = dropped;
    m.lost = lost;
    return { type: 'counter', name: m.name, help: m.members[0].help, series: [...series.values()] };
  }

  private readHistograms(m: Metric): HistogramFamily {
    let lost = 0;
    const series = m.members.map((member) => {
      const h = member.summary as Histogram;
      const snapshot = h.snapshot();
      lost += snapshot.dropped;
      return { labels: member.constLabels, snapshot, signed: h.signed, divisor: h.unit === 'ns' ? 1e9 : 1 };
    });
    m.lost = lost;
    const family: HistogramFamily = { type: 'histogram', name: m.name, help: m.members[0].help, series };
    if (m.unit === 'ns') family.unit = 'seconds';
    return family;
  }
}

/** The set behind each summary given to prometheus(): the series it keeps stay the same from call to call. */
const single = new WeakMap<KernelSummary, { key: string; set: MetricSet }>();

/**
 * The exposition of one summary (text format 0.0.4, or OpenMetrics with
 * `format: 'openmetrics'`), read from the kernel now.
 *
 *   prometheus(countBy('syscall:openat'), { name: 'file_opens', help: 'Files opened' })
 */
export function prometheus(summary: KernelSummary, opts: MetricOptions & MetricSetOptions & { format?: ExpositionFormat }): string {
  const { format, maxSeries, ...metric } = opts ?? ({} as MetricOptions);
  if (format !== undefined && format !== 'prometheus' && format !== 'openmetrics') throw new OptionError(`format must be prometheus or openmetrics, got ${String(format)}`);
  const key = JSON.stringify([metric, maxSeries]);
  let entry = single.get(summary);
  if (!entry || entry.key !== key) {
    entry = { key, set: new MetricSet({ maxSeries }).add(summary, metric) };
    single.set(summary, entry);
  }
  return entry.set.exposition(format);
}
