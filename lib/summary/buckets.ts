/**
 * Histogram buckets as the kernel computes them (bpf/kprobe_node.h): log2
 * (KN_HIST_BUCKETS per probe in `hists`, or counted in `counts`), linear and
 * log-linear (counted in `counts`, one key per bucket), and the percentiles
 * estimated from them, with how far off those can be.
 */
import { BUCKET_NEGATIVE, BucketMode, BucketSpec, HIST_BUCKETS, MAX_BUCKET_BITS, MAX_LINEAR_BUCKETS } from '../sys/abi';
import { OptionError } from '../errors';

/** One histogram bucket: `count` values in [low, high). */
export interface Bucket {
  low: number;
  high: number;
  count: number;
}

/**
 * How values were put into buckets: powers of two; each power of two split
 * into 2^bits (bpftrace's hist(n, bits)); or `step`-wide buckets from `min`
 * to `max` with one bucket below and one above (bpftrace's lhist).
 */
export type BucketScale =
  | { kind: 'log2' }
  | { kind: 'log-linear'; bits: number }
  | { kind: 'linear'; min: number; max: number; step: number };

/** What a histogram holds at one moment. Percentiles are estimated from the buckets. */
export interface HistogramSnapshot {
  /** The non-empty buckets, lowest first. */
  buckets: Bucket[];
  total: number;
  /**
   * The sum of the values, kept by the kernel next to the buckets: exact (as a
   * double). NaN for a group by comm or pid: the kernel keeps one sum per function.
   */
  sum: number;
  p50: number;
  p90: number;
  p99: number;
  /** Values the kernel could not add (a full count map, for histograms kept there). */
  dropped: number;
  /** `ns` for latency histograms; absent for plain values. */
  unit?: 'ns';
  /** How values were bucketed: what bounds the percentiles' error (errorBound()). */
  scale: BucketScale;
  /**
   * One histogram per function (or tracepoint) of a pattern and per group
   * (`by` comm or pid), largest first; this snapshot is their sum.
   */
  groups?: HistogramGroup[];
}

/** One of the histograms a pattern or a grouping makes. */
export interface HistogramGroup {
  /** The probe it belongs to: `kprobe:vfs_read`. */
  probe: string;
  /** The group's comm or pid, when grouped. */
  key?: string | number;
  snapshot: HistogramSnapshot;
}

/** The lowest and highest values a 64-bit bucket can hold, as doubles. */
const MIN_S64 = -(2 ** 63);
const MAX_U64 = 2 ** 64;

/**
 * The bounds of log2 bucket `index`: 0 holds the value 0, k holds
 * [2^(k-1), 2^k). The last bucket also takes everything larger, which for a
 * signed value means every negative one (the kernel sees them as huge u64s).
 */
export function bucketBounds(index: number, signed = false): { low: number; high: number } {
  if (!Number.isInteger(index) || index < 0 || index >= HIST_BUCKETS) throw new RangeError(`no histogram bucket ${index}`);
  if (index === 0) return { low: 0, high: 1 };
  if (index === HIST_BUCKETS - 1) return signed ? { low: MIN_S64, high: 0 } : { low: 2 ** (index - 1), high: MAX_U64 };
  return { low: 2 ** (index - 1), high: 2 ** index };
}

/**
 * The bounds of bucket `index` of a histogram counted in the kernel's count
 * map (struct kn_count_key.bucket), as bpf/kprobe_node.bpf.c's bucket_of() numbers them.
 */
export function scaleBounds(scale: BucketScale, index: number, signed = false): { low: number; high: number } {
  const top = signed ? 2 ** 63 : MAX_U64;
  if (index === BUCKET_NEGATIVE && scale.kind !== 'linear') return { low: MIN_S64, high: 0 };
  switch (scale.kind) {
    case 'log2':
      if (index === HIST_BUCKETS - 1) return { low: 2 ** (index - 1), high: top };
      return bucketBounds(index);
    case 'linear': {
      const { min, step } = scale;
      const count = linearCount(scale);
      // Below min is out of range, as above max is: open-ended either way.
      if (index === 0) return { low: MIN_S64, high: min };
      if (index > count) return { low: min + count * step, high: top };
      return { low: min + (index - 1) * step, high: min + index * step };
    }
    case 'log-linear': {
      const per = 2 ** scale.bits;
      if (index < per) return { low: index, high: index + 1 };
      const group = Math.floor(index / per);
      const sub = index % per;
      const unit = 2 ** (group - 1);
      return { low: (per + sub) * unit, high: Math.min((per + sub + 1) * unit, top) };
    }
  }
}

/** The index of the bucket of `scale` that starts at `low` (the inverse of scaleBounds, for buckets that are not open-ended). */
export function scaleIndex(scale: BucketScale, low: number): number {
  switch (scale.kind) {
    case 'log2':
      return low < 1 ? 0 : Math.round(Math.log2(low)) + 1;
    case 'linear':
      return Math.round((low - scale.min) / scale.step) + 1;
    case 'log-linear': {
      const per = 2 ** scale.bits;
      if (low < per) return low;
      const group = Math.floor(Math.log2(low)) - scale.bits + 1;
      return group * per + Math.round(low / 2 ** (group - 1)) - per;
    }
  }
}

/** Buckets of a linear scale between min and max (the kernel adds one below and one above). */
function linearCount(s: { min: number; max: number; step: number }): number {
  return Math.ceil((s.max - s.min) / s.step);
}

/** Whether a bucket is open-ended: below everything (-2^63) or above it (2^63, 2^64). */
export function openBelow(b: { low: number }): boolean {
  return b.low <= MIN_S64;
}

export function openAbove(b: { high: number }): boolean {
  return b.high >= 2 ** 63;
}

/** The bucket holding the value below which a share `p` (0..1) of the values fall; undefined when empty. */
export function percentileBucket(buckets: readonly Bucket[], p: number): Bucket | undefined {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total === 0) return undefined;
  const rank = Math.min(Math.max(p, 0), 1) * total;
  let before = 0;
  for (const b of buckets) {
    if (b.count > 0 && before + b.count >= rank) return b;
    before += b.count;
  }
  return buckets[buckets.length - 1];
}

/**
 * Estimates percentile `p` (0..1) from the buckets: the value below which a
 * share `p` of the values falls, interpolating linearly inside its bucket;
 * it is off by less than that bucket's width (errorBound() says how much
 * that is). An open-ended bucket gives its one finite bound. NaN when empty.
 */
export function percentile(buckets: readonly Bucket[], p: number): number {
  const b = percentileBucket(buckets, p);
  if (!b) return NaN;
  if (openBelow(b)) return b.high;
  if (openAbove(b)) return b.low;
  const total = buckets.reduce((n, x) => n + x.count, 0);
  const rank = Math.min(Math.max(p, 0), 1) * total;
  const before = buckets.slice(0, buckets.indexOf(b)).reduce((n, x) => n + x.count, 0);
  return b.low + ((b.high - b.low) * (rank - before)) / b.count;
}

/**
 * How far a percentile estimated from these buckets may be from the true
 * one: a relative bound (0.125: ±12.5%) for log scales, an absolute one (the
 * step) for linear buckets. Log2 buckets are only good to a factor of two.
 */
export function errorBound(scale: BucketScale): { relative: number } | { absolute: number } {
  switch (scale.kind) {
    case 'log2':
      return { relative: 1 };
    case 'log-linear':
      return { relative: 2 ** -scale.bits };
    case 'linear':
      return { absolute: scale.step };
  }
}

/** What a snapshot is made with besides its buckets: the kernel's sum (a u64) is NaN when absent. */
export interface SnapshotOptions {
  signed?: boolean;
  unit?: 'ns';
  dropped?: number;
  sum?: bigint;
}

/** The kernel's u64 sum as a number: signed values sum in two's complement. */
function sumOf(opts: SnapshotOptions): number {
  if (opts.sum === undefined) return NaN;
  return Number(opts.signed ? BigInt.asIntN(64, opts.sum) : BigInt.asUintN(64, opts.sum));
}

/** Sorts, totals and estimates: a snapshot from buckets with counts. */
function snapshotOf(buckets: Bucket[], scale: BucketScale, opts: SnapshotOptions): HistogramSnapshot {
  buckets.sort((a, b) => a.low - b.low);
  const snap: HistogramSnapshot = {
    buckets,
    total: buckets.reduce((n, b) => n + b.count, 0),
    sum: sumOf(opts),
    p50: percentile(buckets, 0.5),
    p90: percentile(buckets, 0.9),
    p99: percentile(buckets, 0.99),
    dropped: opts.dropped ?? 0,
    scale,
  };
  if (opts.unit) snap.unit = opts.unit;
  return snap;
}

/** A snapshot from the kernel's raw log2 bucket counts (HIST_BUCKETS of them), and its sum. */
export function histogramSnapshot(counts: ArrayLike<number>, opts: SnapshotOptions = {}): HistogramSnapshot {
  const buckets: Bucket[] = [];
  for (let i = 0; i < Math.min(counts.length, HIST_BUCKETS); i++) {
    if (counts[i] > 0) buckets.push({ ...bucketBounds(i, opts.signed), count: counts[i] });
  }
  return snapshotOf(buckets, { kind: 'log2' }, { sum: 0n, ...opts });
}

/** A snapshot from bucket indices and their counts, as the count map holds them. */
export function scaleSnapshot(scale: BucketScale, counts: ReadonlyMap<number, number>, opts: SnapshotOptions = {}): HistogramSnapshot {
  const buckets: Bucket[] = [];
  for (const [index, count] of counts) if (count > 0) buckets.push({ ...scaleBounds(scale, index, opts.signed), count });
  return snapshotOf(buckets, scale, opts);
}

/** The sum of snapshots of one scale (the histograms of a pattern's functions, or of groups), with the kernel's `sum` of them all. */
export function mergeSnapshots(parts: readonly HistogramSnapshot[], scale: BucketScale, opts: SnapshotOptions = {}): HistogramSnapshot {
  const byLow = new Map<number, Bucket>();
  for (const s of parts) {
    for (const b of s.buckets) {
      const seen = byLow.get(b.low);
      if (seen) seen.count += b.count;
      else byLow.set(b.low, { ...b });
    }
  }
  return snapshotOf([...byLow.values()], scale, opts);
}

/**
 * Checks finer buckets than log2 and turns them into what the kernel takes:
 * `linear` (min, max, step; at most MAX_LINEAR_BUCKETS between min and max)
 * or `bits` (log-linear, 0..MAX_BUCKET_BITS). `names` says what the caller
 * calls them, for messages in the caller's words (the CLI's flags).
 */
export function bucketSpec(
  o: { linear?: { min: number; max: number; step: number }; bits?: number },
  names: { linear: string; bits: string } = { linear: 'linear', bits: 'bits' },
): { scale: BucketScale; spec: BucketSpec } {
  if (o.linear !== undefined && o.bits !== undefined) throw new OptionError(`${names.linear} and ${names.bits} do not go together: linear or log-linear buckets`);
  if (o.bits !== undefined) {
    const bits = o.bits;
    if (!Number.isInteger(bits) || bits < 0 || bits > MAX_BUCKET_BITS) {
      throw new OptionError(`${names.bits} must be an integer from 0 to ${MAX_BUCKET_BITS} (each power of two split into 2^${names.bits} buckets), got ${String(bits)}`);
    }
    return { scale: { kind: 'log-linear', bits }, spec: { mode: BucketMode.LogLinear, bits } };
  }
  if (o.linear !== undefined) {
    const l = o.linear;
    const ok = l && typeof l === 'object' && [l.min, l.max, l.step].every((v) => Number.isSafeInteger(v));
    if (!ok) throw new OptionError(`${names.linear} takes three integers: min, max and step`);
    if (!(l.step > 0)) throw new OptionError(`${names.linear}: the step must be positive, got ${l.step}`);
    if (!(l.max > l.min)) throw new OptionError(`${names.linear}: max (${l.max}) must be above min (${l.min})`);
    const count = linearCount(l);
    if (count > MAX_LINEAR_BUCKETS) {
      throw new OptionError(`${names.linear}: ${count} buckets from ${l.min} to ${l.max} in steps of ${l.step}; at most ${MAX_LINEAR_BUCKETS} (take a larger step)`);
    }
    return {
      scale: { kind: 'linear', min: l.min, max: l.min + count * l.step, step: l.step },
      spec: { mode: BucketMode.Linear, min: BigInt(l.min), step: BigInt(l.step), count },
    };
  }
  return { scale: { kind: 'log2' }, spec: { mode: BucketMode.Log2 } };
}
