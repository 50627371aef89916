/**
 * Prometheus exposition of in-kernel counts and log2 histograms: the text
 * format 0.0.4, and OpenMetrics 1.0.0 for scrapers that ask for it. Pure:
 * metric families in, text out.
 *
 *   # HELP file_opens_total Files opened, by command
 *   # TYPE file_opens_total counter
 *   file_opens_total{comm="cat"} 3
 *
 * A kernel histogram's bucket k holds the integers in [2^(k-1), 2^k), that
 * is those <= 2^k - 1: that is its `le`, so every cumulative bucket is exact.
 */
import type { HistogramSnapshot } from '../summary';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** Label names and values, in the order they are printed. */
export type Labels = ReadonlyArray<readonly [name: string, value: string]>;

export interface CounterFamily {
  type: 'counter';
  /** Without `_total`: the samples are `<name>_total`. */
  name: string;
  help: string;
  series: { labels: Labels; value: number }[];
}

export interface HistogramSeries {
  labels: Labels;
  snapshot: HistogramSnapshot;
  /** The value is signed: the kernel's negative values are counted in one bucket below zero. */
  signed: boolean;
  /** Kernel units per base unit: 1e9 turns nanoseconds into seconds (dividing keeps bounds like 0.004194303 exact). */
  divisor: number;
}

export interface HistogramFamily {
  type: 'histogram';
  name: string;
  help: string;
  /** OpenMetrics' `# UNIT`; the name ends in it. */
  unit?: 'seconds';
  series: HistogramSeries[];
}

export type MetricFamily = CounterFamily | HistogramFamily;

/** A metric name in the Prometheus grammar, [a-zA-Z_:][a-zA-Z0-9_:]*: other characters become `_`. */
export function metricName(raw: string): string {
  const s = raw.replace(/[^a-zA-Z0-9_:]+/g, '_');
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

/** A label name, [a-zA-Z_][a-zA-Z0-9_]*, not starting with `__` (reserved for Prometheus itself). */
export function labelName(raw: string): string {
  let s = raw.replace(/[^a-zA-Z0-9_]+/g, '_');
  if (!/^[a-zA-Z_]/.test(s)) s = `_${s}`;
  return s.replace(/^__+/, '_');
}

/**
 * The format a scraper's Accept header asks for: OpenMetrics when it ranks
 * `application/openmetrics-text` (version 1.0.0, or none given) above the
 * text format; the text format otherwise, and when there is no header.
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  let best: { format: ExpositionFormat; q: number } = { format: 'prometheus', q: 0 };
  for (const range of (accept ?? '').split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const param = (name: string) => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
    const q = param('q') === undefined ? 1 : Number(param('q'));
    if (!(q > best.q)) continue;
    const version = param('version');
    if (type === 'application/openmetrics-text' && (version === undefined || version === '1.0.0')) best = { format: 'openmetrics', q };
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') best = { format: 'prometheus', q };
  }
  return best.format;
}

/** A sample value or `le` bound as both formats write floats. */
export function formatNumber(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string, format: ExpositionFormat): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? s.replace(/"/g, '\\"') : s;
}

function labelText(labels: Labels): string {
  return labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}` : '';
}

/** Index of the kernel bucket [low, high): 0 holds 0, k >= 1 holds [2^(k-1), 2^k); -1 for the negative values. */
function kernelIndex(low: number): number {
  if (low < 0) return -1;
  return low === 0 ? 0 : Math.round(Math.log2(low)) + 1;
}

/** The top kernel bucket also holds everything larger: only +Inf bounds it. */
const OPEN_BUCKET = 63;

/**
 * A histogram's cumulative buckets, in base units, `+Inf` last. They run
 * from the bucket below the lowest one holding values (so that interpolating
 * quantiles starts at the right bound) to the highest one holding values;
 * `le="-1"` first when negative values were seen.
 */
export function cumulativeBuckets(h: Pick<HistogramSeries, 'snapshot' | 'divisor'>): { le: number; count: number }[] {
  const byIndex = new Map<number, number>();
  for (const b of h.snapshot.buckets) byIndex.set(kernelIndex(b.low), b.count);
  const positive = [...byIndex.keys()].filter((k) => k >= 0 && k < OPEN_BUCKET);
  const out: { le: number; count: number }[] = [];
  let seen = byIndex.get(-1) ?? 0;
  if (seen > 0) out.push({ le: -1 / h.divisor, count: seen });
  if (positive.length) {
    const lo = Math.max(0, Math.min(...positive) - 1);
    const hi = Math.max(...positive);
    for (let k = lo; k <= hi; k++) {
      seen += byIndex.get(k) ?? 0;
      out.push({ le: (k === 0 ? 0 : 2 ** k - 1) / h.divisor, count: seen });
    }
  }
  out.push({ le: Infinity, count: h.snapshot.total });
  return out;
}

function counterLines(f: CounterFamily, format: ExpositionFormat): string[] {
  const lines: string[] = [];
  const name = `${f.name}_total`;
  const family = format === 'openmetrics' ? f.name : name;
  lines.push(`# HELP ${family} ${escapeHelp(f.help, format)}`, `# TYPE ${family} counter`);
  for (const s of f.series) lines.push(`${name}${labelText(s.labels)} ${formatNumber(s.value)}`);
  return lines;
}

function histogramLines(f: HistogramFamily, format: ExpositionFormat): string[] {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help, format)}`, `# TYPE ${f.name} histogram`];
  if (f.unit && format === 'openmetrics') lines.push(`# UNIT ${f.name} ${f.unit}`);
  for (const s of f.series) {
    const buckets = cumulativeBuckets(s);
    for (const b of buckets) lines.push(`${f.name}_bucket${labelText([...s.labels, ['le', formatNumber(b.le)]])} ${b.count}`);
    // OpenMetrics: a histogram with negative buckets has no sum (it would not be a counter).
    if (format === 'prometheus' || buckets[0].le >= 0) lines.push(`${f.name}_sum${labelText(s.labels)} ${formatNumber(s.snapshot.sum / s.divisor)}`);
    lines.push(`${f.name}_count${labelText(s.labels)} ${s.snapshot.total}`);
  }
  return lines;
}

/** The exposition of `families`, in one format; OpenMetrics ends with `# EOF`. */
export function exposition(families: readonly MetricFamily[], format: ExpositionFormat = 'prometheus'): string {
  const lines = families.flatMap((f) => (f.type === 'counter' ? counterLines(f, format) : histogramLines(f, format)));
  if (format === 'openmetrics') lines.push('# EOF');
  return lines.length ? `${lines.join('\n')}\n` : '';
}
