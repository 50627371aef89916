/**
 * The buckets of the kernel's log2 histograms (bpf/kprobe_node.h,
 * KN_HIST_BUCKETS) and the percentiles estimated from them.
 */
import { HIST_BUCKETS } from '../sys/abi';

/** One histogram bucket: `count` values in [low, high). */
export interface Bucket {
  low: number;
  high: number;
  count: number;
}

/** What a histogram holds at one moment. Percentiles are estimated from the buckets. */
export interface HistogramSnapshot {
  /** The non-empty buckets, lowest first. */
  buckets: Bucket[];
  total: number;
  /** The sum of the values, kept by the kernel next to the buckets: exact (as a double). */
  sum: number;
  p50: number;
  p90: number;
  p99: number;
  /** Values the kernel could not add (never expected for histograms; kept for symmetry with counts). */
  dropped: number;
  /** `ns` for latency histograms; absent for plain values. */
  unit?: 'ns';
}

/**
 * The bounds of kernel bucket `index`: 0 holds the value 0, k holds
 * [2^(k-1), 2^k). The last bucket also takes everything larger, which for a
 * signed value means every negative one (the kernel sees them as huge u64s).
 */
export function bucketBounds(index: number, signed = false): { low: number; high: number } {
  if (!Number.isInteger(index) || index < 0 || index >= HIST_BUCKETS) throw new RangeError(`no histogram bucket ${index}`);
  if (index === 0) return { low: 0, high: 1 };
  if (index === HIST_BUCKETS - 1) return signed ? { low: -(2 ** 63), high: 0 } : { low: 2 ** (index - 1), high: 2 ** 64 };
  return { low: 2 ** (index - 1), high: 2 ** index };
}

/**
 * Estimates percentile `p` (0..1) from the buckets: the value below which a
 * share `p` of the values falls, interpolating linearly inside its bucket.
 * Exact only to within the bucket (a factor of two). NaN when empty.
 */
export function percentile(buckets: readonly Bucket[], p: number): number {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total === 0) return NaN;
  const rank = Math.min(Math.max(p, 0), 1) * total;
  let before = 0;
  for (const b of buckets) {
    if (b.count > 0 && before + b.count >= rank) {
      if (b.low < 0) return b.low; // the negative bucket has no meaningful inside
      return b.low + ((b.high - b.low) * (rank - before)) / b.count;
    }
    before += b.count;
  }
  const last = buckets[buckets.length - 1];
  return last.high;
}

/** A snapshot from the kernel's raw bucket counts (HIST_BUCKETS of them). */
export function histogramSnapshot(
  counts: ArrayLike<number>,
  opts: { signed?: boolean; unit?: 'ns'; dropped?: number; sum?: bigint } = {},
): HistogramSnapshot {
  const buckets: Bucket[] = [];
  for (let i = 0; i < Math.min(counts.length, HIST_BUCKETS); i++) {
    if (counts[i] > 0) buckets.push({ ...bucketBounds(i, opts.signed), count: counts[i] });
  }
  buckets.sort((a, b) => a.low - b.low);
  const snap: HistogramSnapshot = {
    buckets,
    total: buckets.reduce((n, b) => n + b.count, 0),
    // The kernel adds values as u64: signed ones sum in two's complement.
    sum: Number(opts.signed ? BigInt.asIntN(64, opts.sum ?? 0n) : BigInt.asUintN(64, opts.sum ?? 0n)),
    p50: percentile(buckets, 0.5),
    p90: percentile(buckets, 0.9),
    p99: percentile(buckets, 0.99),
    dropped: opts.dropped ?? 0,
  };
  if (opts.unit) snap.unit = opts.unit;
  return snap;
}
