/**
 * Histograms and count tables as text: the bar charts users know from
 * bpftrace and BCC. Pure functions: no kernel, no I/O.
 */
import { Bucket, HistogramSnapshot, bucketBounds } from '../summary/buckets';

const SIZE_SUFFIXES = ['', 'K', 'M', 'G', 'T', 'P', 'E'];

function trim(v: number): string {
  // Two significant digits below 10, whole numbers above: `2.1ms`, `17ms`, `512`.
  const s = v < 10 ? v.toFixed(1) : String(Math.round(v));
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

/** A plain value the bpftrace way: powers of 1024 as `4K`, `1M`; others `3.5K`. */
export function formatSize(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v < 0) return `-${formatSize(-v)}`;
  let i = 0;
  while (v >= 1024 && i < SIZE_SUFFIXES.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? (Number.isInteger(v) ? String(v) : trim(v)) : trim(v)) + SIZE_SUFFIXES[i];
}

/** Nanoseconds in the largest unit that keeps a number >= 1: `850ns`, `2.1ms`, `34ms`, `1.2s`. */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 1e3) return `${trim(ns)}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}us`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  return `${trim(ns / 1e9)}s`;
}

function formatBound(v: number, unit?: 'ns'): string {
  return unit === 'ns' ? formatDuration(v) : formatSize(v);
}

/** `[0]`, `[4K, 8K)`, `[2.1ms, 4.2ms)`, `(<0)`. */
export function bucketLabel(b: Bucket, unit?: 'ns'): string {
  if (b.low < 0) return '(<0)';
  if (b.low === 0 && b.high === 1) return '[0]';
  if (b.high >= 2 ** 64) return `[${formatBound(b.low, unit)}, ...)`;
  return `[${formatBound(b.low, unit)}, ${formatBound(b.high, unit)})`;
}

export interface ChartOptions {
  /** Width of the bar, in characters (default 40). */
  width?: number;
}

/**
 * The histogram as a bar chart, one line per bucket from the lowest
 * non-empty to the highest (empty ones between are shown), then the
 * estimated percentiles:
 *
 *   [2.1ms, 4.2ms)        10 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 *   p50 ~ 3.1ms  p90 ~ 3.9ms  p99 ~ 4.2ms  (estimated from log2 buckets), 10 values
 */
export function renderHistogram(snap: HistogramSnapshot, opts: ChartOptions = {}): string {
  const width = opts.width ?? 40;
  if (snap.total === 0) return '(no values)\n';
  // Negative values first, then every bucket from the lowest non-empty to the highest, so the shape reads right.
  const rows: Bucket[] = snap.buckets.filter((b) => b.low < 0);
  const pos = snap.buckets.filter((b) => b.low >= 0);
  const byLow = new Map(pos.map((b) => [b.low, b]));
  const index = (b: Bucket) => (b.low === 0 ? 0 : Math.log2(b.low) + 1);
  if (pos.length) {
    for (let i = index(pos[0]); i <= index(pos[pos.length - 1]); i++) {
      const bounds = bucketBounds(i);
      rows.push(byLow.get(bounds.low) ?? { ...bounds, count: 0 });
    }
  }
  const max = Math.max(...rows.map((r) => r.count));
  const labels = rows.map((r) => bucketLabel(r, snap.unit));
  const lw = Math.max(...labels.map((l) => l.length));
  const cw = Math.max(...rows.map((r) => String(r.count).length));
  const lines = rows.map((r, i) => {
    const n = r.count === 0 ? 0 : Math.max(1, Math.round((r.count * width) / max));
    return `${labels[i].padEnd(lw)} ${String(r.count).padStart(cw + 4)} |${'@'.repeat(n).padEnd(width)}|`;
  });
  const f = (v: number) => (Number.isNaN(v) ? '-' : v < 0 ? '<0' : formatBound(v, snap.unit));
  lines.push(`p50 ~ ${f(snap.p50)}  p90 ~ ${f(snap.p90)}  p99 ~ ${f(snap.p99)}  (estimated from log2 buckets), ${snap.total} value${snap.total === 1 ? '' : 's'}`);
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
