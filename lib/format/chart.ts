/**
 * Histograms and count tables as text: the bar charts users know from
 * bpftrace and BCC. Pure functions: no kernel, no I/O.
 */
import {
  Bucket,
  BucketScale,
  HistogramSnapshot,
  bucketBounds,
  errorBound,
  openAbove,
  openBelow,
  percentileBucket,
  scaleBounds,
  scaleIndex,
} from '../summary/buckets';

const SIZE_SUFFIXES = ['', 'K', 'M', 'G', 'T', 'P', 'E'];

/**
 * `v` with `digits` significant digits at most, trailing zeros dropped; by
 * default two below 10 and whole numbers above: `2.1ms`, `17ms`, `512`.
 */
function trim(v: number, digits?: number): string {
  let s: string;
  if (digits === undefined) s = v < 10 ? v.toFixed(1) : String(Math.round(v));
  else s = v >= 10 ** digits ? String(Math.round(v)) : String(Number(v.toPrecision(digits)));
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

/** A plain value the bpftrace way: powers of 1024 as `4K`, `1M`; others `3.5K` (`digits` significant digits when given). */
export function formatSize(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v < 0) return `-${formatSize(-v, digits)}`;
  let i = 0;
  while (v >= 1024 && i < SIZE_SUFFIXES.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 && Number.isInteger(v) ? String(v) : trim(v, digits)) + SIZE_SUFFIXES[i];
}

/** Nanoseconds in the largest unit that keeps a number >= 1: `850ns`, `2.1ms`, `34ms`, `1.2s`. */
export function formatDuration(ns: number, digits?: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 0) return `-${formatDuration(-ns, digits)}`;
  if (ns < 1e3) return `${trim(ns, digits)}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3, digits)}us`;
  if (ns < 1e9) return `${trim(ns / 1e6, digits)}ms`;
  return `${trim(ns / 1e9, digits)}s`;
}

/** A bound or percentile: a duration, a size (`4K`), or with `digits` 0 the whole number itself (linear buckets). */
function formatBound(v: number, unit?: 'ns', digits?: number): string {
  if (unit === 'ns') return formatDuration(v, digits || undefined);
  return digits === 0 ? String(Math.round(v)) : formatSize(v, digits);
}

/** Digits for a scale's labels: log2 as ever, 3 significant ones for log-linear, whole numbers for linear. */
function digitsOf(scale: BucketScale | undefined): number | undefined {
  if (!scale || scale.kind === 'log2') return undefined;
  return scale.kind === 'linear' ? 0 : 3;
}

/** Two bounds with `digits` significant digits, or as many more as it takes to tell them apart. */
function formatPair(low: number, high: number, unit?: 'ns', digits?: number): [string, string] {
  let pair: [string, string] = [formatBound(low, unit, digits), formatBound(high, unit, digits)];
  for (let d = (digits || 2) + 1; pair[0] === pair[1] && d <= 7; d++) pair = [formatBound(low, unit, d), formatBound(high, unit, d)];
  return pair;
}

/**
 * `[0]`, `[4K, 8K)`, `[2.1ms, 4.2ms)`, `(<0)`, `(<100)`, `[2000, ...)`; finer
 * buckets than log2 are labelled with `digits` significant digits (0: whole numbers).
 */
export function bucketLabel(b: Bucket, unit?: 'ns', digits?: number): string {
  if (openBelow(b)) return `(<${formatBound(b.high, unit, digits)})`;
  if (b.low === 0 && b.high === 1) return '[0]';
  if (openAbove(b)) return `[${formatBound(b.low, unit, digits)}, ...)`;
  const [low, high] = formatPair(b.low, b.high, unit, digits);
  return `[${low}, ${high})`;
}

export interface ChartOptions {
  /** Width of the bar, in characters (default 40). */
  width?: number;
}

/**
 * Every bucket of the scale from the lowest non-empty one to the highest,
 * empty ones included, so that the shape reads right; open-ended buckets
 * (negatives, below min, above max) where they fall.
 */
function chartRows(snap: HistogramSnapshot): Bucket[] {
  const scale: BucketScale = snap.scale ?? { kind: 'log2' };
  const below = snap.buckets.filter((b) => openBelow(b));
  const above = snap.buckets.filter((b) => !openBelow(b) && openAbove(b) && scale.kind !== 'log2');
  const inner = snap.buckets.filter((b) => !below.includes(b) && !above.includes(b));
  const rows: Bucket[] = [...below];
  if (inner.length) {
    const byLow = new Map(inner.map((b) => [b.low, b]));
    const first = scaleIndex(scale, inner[0].low);
    const last = scaleIndex(scale, inner[inner.length - 1].low);
    for (let i = first; i <= last; i++) {
      const bounds = scale.kind === 'log2' ? bucketBounds(i) : scaleBounds(scale, i);
      rows.push(byLow.get(bounds.low) ?? { ...bounds, count: 0 });
    }
  }
  rows.push(...above);
  return rows;
}

/** What the percentiles are good to: `within a factor of 2`, `within ±12.5%`, `within ±200`. */
export function errorLabel(scale: BucketScale, unit?: 'ns'): string {
  const e = errorBound(scale);
  const what = `estimated from ${scale.kind} buckets`;
  if ('absolute' in e) return `${what}: within ±${formatBound(e.absolute, unit, 0)}`;
  if (e.relative >= 1) return `${what}: within a factor of 2`;
  return `${what}: within ±${+(e.relative * 100).toFixed(2)}%`;
}

/** A percentile as the chart shows it: `3.1ms`; `<0` or `>=2000` when it falls in an open-ended bucket. */
function formatPercentile(snap: HistogramSnapshot, p: number, v: number): string {
  if (Number.isNaN(v)) return '-';
  const b = percentileBucket(snap.buckets, p);
  const digits = digitsOf(snap.scale);
  if (b && openBelow(b)) return `<${formatBound(b.high, snap.unit, digits)}`;
  if (b && openAbove(b) && snap.scale?.kind !== 'log2') return `>=${formatBound(b.low, snap.unit, digits)}`;
  return formatBound(v, snap.unit, digits);
}

/**
 * The histogram as a bar chart, one line per bucket from the lowest
 * non-empty to the highest (empty ones between are shown), then the
 * estimated percentiles and how far off they may be:
 *
 *   [2.1ms, 4.2ms)        10 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 *   p50 ~ 3.1ms  p90 ~ 3.9ms  p99 ~ 4.2ms  (estimated from log2 buckets: within a factor of 2), 10 values
 */
export function renderHistogram(snap: HistogramSnapshot, opts: ChartOptions = {}): string {
  const width = opts.width ?? 40;
  if (snap.total === 0) return '(no values)\n';
  const rows = chartRows(snap);
  const max = Math.max(...rows.map((r) => r.count));
  const digits = digitsOf(snap.scale);
  const labels = rows.map((r) => bucketLabel(r, snap.unit, digits));
  const lw = Math.max(...labels.map((l) => l.length));
  const cw = Math.max(...rows.map((r) => String(r.count).length));
  const lines = rows.map((r, i) => {
    const n = r.count === 0 ? 0 : Math.max(1, Math.round((r.count * width) / max));
    return `${labels[i].padEnd(lw)} ${String(r.count).padStart(cw + 4)} |${'@'.repeat(n).padEnd(width)}|`;
  });
  const f = (p: number, v: number) => formatPercentile(snap, p, v);
  lines.push(
    `p50 ~ ${f(0.5, snap.p50)}  p90 ~ ${f(0.9, snap.p90)}  p99 ~ ${f(0.99, snap.p99)}  (${errorLabel(snap.scale ?? { kind: 'log2' }, snap.unit)}), ` +
      `${snap.total} value${snap.total === 1 ? '' : 's'}`,
  );
  return lines.join('\n') + '\n';
}

/** One row of a count table. */
export interface CountRow {
  probe: string;
  /** The key as shown (a comm, a pid, a formatted value); absent when counting by probe. */
  label?: string;
  count: number;
}

/**
 * Counts as a table, largest first:
 *
 *        COUNT  PROBE COMM
 *            3  tracepoint:syscalls:sys_enter_syncfs sync
 */
export function renderCounts(rows: readonly CountRow[], column?: string): string {
  const sorted = [...rows].sort((a, b) => b.count - a.count);
  const head = `${'COUNT'.padStart(10)}  PROBE${column ? ` ${column.toUpperCase()}` : ''}`;
  const lines = sorted.map((r) => `${String(r.count).padStart(10)}  ${r.probe}${r.label !== undefined ? ` ${r.label}` : ''}`);
  return [head, ...lines].join('\n') + '\n';
}
