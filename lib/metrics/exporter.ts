/**
 * The exporter daemon's state: the summaries a configuration names, attached
 * and gathered in one MetricSet. Applying a new configuration (SIGHUP)
 * attaches the summaries it adds first, then detaches the ones it drops;
 * a summary whose kernel side (kind, target, key, filters) is unchanged stays
 * attached and keeps its counts, even when its name, help or labels change.
 * A configuration that cannot be attached changes nothing.
 */
import { configure } from '../api';
import { KprobeNodeError } from '../errors';
import { countBy, histogram, latency } from '../summary';
import type { SummaryOptions } from '../summary';
import type { ExporterConfig, MetricConfig } from './config';
import { KernelSummary, MetricOptions, MetricSet } from './set';

interface Running {
  key: string;
  config: MetricConfig;
  summary: KernelSummary;
}

/** What applying a configuration did, by metric name. */
export interface ApplyResult {
  attached: string[];
  detached: string[];
  kept: string[];
  /** Settings that cannot change while running. */
  ignored: string[];
}

/** The part of a metric's configuration the kernel sees: equal keys mean the same summary. */
function kernelKey(m: MetricConfig): string {
  return JSON.stringify([m.kind, m.target, m.by ?? 'comm', m.expression, m.pid, m.tid, m.uid, m.comm, m.filter, m.ret ?? false, m.stringSize]);
}

function presentation(m: MetricConfig): MetricOptions {
  const o: MetricOptions = { name: m.name };
  if (m.help !== undefined) o.help = m.help;
  if (m.labels !== undefined) o.labels = m.labels;
  return o;
}

function attach(m: MetricConfig): KernelSummary {
  const opts: SummaryOptions = { pid: m.pid, tid: m.tid, uid: m.uid, comm: m.comm, filter: m.filter, stringSize: m.stringSize, ret: m.ret };
  for (const k of Object.keys(opts) as (keyof SummaryOptions)[]) if (opts[k] === undefined) delete opts[k];
  switch (m.kind) {
    case 'count':
      return countBy(m.target, { ...opts, by: m.by ?? 'comm' });
    case 'hist':
      return histogram(m.target, m.expression as string, opts);
    case 'latency':
      return latency(m.target, opts);
  }
}

export class Exporter {
  /** What is served: every running summary as a metric. */
  readonly metrics: MetricSet;
  #running: Running[] = [];
  #maxCounts?: number;
  #started = false;

  /** `maxSeries` of the configuration it starts with (it cannot change while running). */
  constructor(opts: { maxSeries?: number } = {}) {
    this.metrics = new MetricSet({ maxSeries: opts.maxSeries });
  }

  /** Makes the running summaries those of `config`; on failure nothing has changed, and the error names the metric. */
  apply(config: ExporterConfig): ApplyResult {
    const result: ApplyResult = { attached: [], detached: [], kept: [], ignored: [] };
    if (!this.#started) {
      if (config.maxCounts !== undefined) configure({ maxCounts: config.maxCounts });
      this.#maxCounts = config.maxCounts;
    } else if (config.maxCounts !== this.#maxCounts) {
      result.ignored.push('max_counts (the count map is sized at start)');
    }
    if ((config.maxSeries ?? this.metrics.maxSeries) !== this.metrics.maxSeries) result.ignored.push('max_series (set at start)');

    const unclaimed = [...this.#running];
    const next: Running[] = [];
    const fresh: Running[] = [];
    try {
      for (const m of config.metrics) {
        const key = kernelKey(m);
        const i = unclaimed.findIndex((r) => r.key === key);
        if (i >= 0) {
          next.push({ ...unclaimed[i], config: m });
          unclaimed.splice(i, 1);
          continue;
        }
        let summary: KernelSummary;
        try {
          summary = attach(m);
        } catch (e) {
          if (e instanceof KprobeNodeError) e.message = `metric ${m.name}: ${e.message}`;
          throw e;
        }
        const r = { key, config: m, summary };
        fresh.push(r);
        next.push(r);
      }
    } catch (e) {
      for (const r of fresh) r.summary.close();
      throw e;
    }

    this.#started = true;
    for (const r of unclaimed) {
      this.metrics.remove(r.summary);
      r.summary.close();
      result.detached.push(r.config.name);
    }
    // Renamed ones leave the set before any is added back: two metrics may swap names.
    const shown = (r: Running) => JSON.stringify(presentation(r.config));
    const changed = next.filter((r) => {
      const before = this.#running.find((x) => x.summary === r.summary);
      (before ? result.kept : result.attached).push(r.config.name);
      return !before || shown(before) !== shown(r);
    });
    for (const r of changed) this.metrics.remove(r.summary);
    for (const r of changed) this.metrics.add(r.summary, presentation(r.config));
    this.#running = next;
    return result;
  }

  /** Detaches every summary. */
  close(): void {
    for (const r of this.#running) {
      this.metrics.remove(r.summary);
      r.summary.close();
    }
    this.#running = [];
  }
}
