/** Histogram buckets, percentiles and the text charts and tables (lib/summary/buckets.ts, lib/format/chart.ts); no kernel. */
import { HIST_BUCKETS } from '../../lib/sys/abi';
import { BucketScale, bucketBounds, bucketSpec, errorBound, histogramSnapshot, mergeSnapshots, percentile, scaleBounds, scaleIndex, scaleSnapshot } from '../../lib/summary/buckets';
import { BUCKET_NEGATIVE, BucketMode } from '../../lib/sys/abi';
import { OptionError } from '../../lib/errors';
import {
  bucketLabel,
  formatDuration,
  formatSize,
  renderCounts,
  renderHistogram,
} from '../../lib/format/chart';

/** Raw kernel counts with `n` in bucket `i` for each [i, n]. */
function raw(...set: Array<[number, number]>): Float64Array {
  const a = new Float64Array(HIST_BUCKETS);
  for (const [i, n] of set) a[i] = n;
  return a;
}

describe('bucket bounds (the kernel: 0 holds 0, k holds [2^(k-1), 2^k))', () => {
  test.each([
    [0, 0, 1],
    [1, 1, 2],
    [2, 2, 4],
    [13, 4096, 8192],
    [22, 2 ** 21, 2 ** 22],
    [62, 2 ** 61, 2 ** 62],
  ])('bucket %d is [%d, %d)', (i, low, high) => {
    expect(bucketBounds(i)).toEqual({ low, high });
  });

  test('the last bucket takes everything larger; for signed values, the negatives', () => {
    expect(bucketBounds(63)).toEqual({ low: 2 ** 62, high: 2 ** 64 });
    expect(bucketBounds(63, true)).toEqual({ low: -(2 ** 63), high: 0 });
  });

  test('out of range is a RangeError', () => {
    expect(() => bucketBounds(64)).toThrow(RangeError);
    expect(() => bucketBounds(-1)).toThrow(RangeError);
  });
});

describe('histogramSnapshot and percentiles', () => {
  test('non-empty buckets in order, the total and the estimates', () => {
    const s = histogramSnapshot(raw([22, 10], [25, 10]), { unit: 'ns', dropped: 2 });
    expect(s.buckets).toEqual([
      { low: 2 ** 21, high: 2 ** 22, count: 10 },
      { low: 2 ** 24, high: 2 ** 25, count: 10 },
    ]);
    expect(s.total).toBe(20);
    expect(s.dropped).toBe(2);
    expect(s.unit).toBe('ns');
    // Half the values are in the first bucket: p50 is its top; p90 is 80% into the second.
    expect(s.p50).toBe(2 ** 22);
    expect(s.p90).toBeCloseTo(2 ** 24 + 0.8 * 2 ** 24);
    expect(s.p99).toBeCloseTo(2 ** 24 + 0.98 * 2 ** 24);
  });

  test('a percentile falls inside the bucket holding its rank', () => {
    const s = histogramSnapshot(raw([1, 50], [8, 40], [11, 10]));
    expect(s.p50).toBeGreaterThanOrEqual(1);
    expect(s.p50).toBeLessThanOrEqual(2);
    expect(s.p90).toBeGreaterThanOrEqual(128);
    expect(s.p90).toBeLessThanOrEqual(256);
    expect(s.p99).toBeGreaterThanOrEqual(1024);
    expect(s.p99).toBeLessThanOrEqual(2048);
  });

  test('empty: no buckets, NaN percentiles', () => {
    const s = histogramSnapshot(new Float64Array(HIST_BUCKETS));
    expect(s.buckets).toEqual([]);
    expect(s.total).toBe(0);
    expect(s.p50).toBeNaN();
    expect(percentile([], 0.5)).toBeNaN();
  });

  test('signed values: negatives come first; a percentile among them is their bound, 0, shown as <0', () => {
    const s = histogramSnapshot(raw([63, 3], [5, 1]), { signed: true });
    expect(s.buckets[0]).toEqual({ low: -(2 ** 63), high: 0, count: 3 });
    expect(s.p50).toBe(0);
    expect(renderHistogram(s)).toMatch(/^p50 ~ <0 {2}p90 ~ 26 {2}/m);
  });
});

describe('labels', () => {
  test.each([
    [0, '0'],
    [1, '1'],
    [512, '512'],
    [1024, '1K'],
    [4096, '4K'],
    [2 ** 20, '1M'],
    [3 * 2 ** 30, '3G'],
    [1536, '1.5K'],
    [2 ** 62, '4E'],
  ])('size %d is %s', (v, s) => expect(formatSize(v)).toBe(s));

  test.each([
    [0, '0ns'],
    [512, '512ns'],
    [1024, '1us'],
    [4096, '4.1us'],
    [16384, '16us'],
    [2 ** 21, '2.1ms'],
    [2 ** 22, '4.2ms'],
    [2 ** 24, '17ms'],
    [2 ** 25, '34ms'],
    [1.5e9, '1.5s'],
  ])('duration %d ns is %s', (v, s) => expect(formatDuration(v)).toBe(s));

  test('bucket labels', () => {
    expect(bucketLabel({ low: 0, high: 1, count: 1 })).toBe('[0]');
    expect(bucketLabel({ low: 4096, high: 8192, count: 1 })).toBe('[4K, 8K)');
    expect(bucketLabel({ low: 2 ** 21, high: 2 ** 22, count: 1 }, 'ns')).toBe('[2.1ms, 4.2ms)');
    expect(bucketLabel({ low: -(2 ** 63), high: 0, count: 1 })).toBe('(<0)');
  });
});

describe('renderHistogram', () => {
  test('one bar per bucket from the lowest to the highest non-empty, gaps shown, percentiles beneath', () => {
    const text = renderHistogram(histogramSnapshot(raw([13, 12], [15, 6]), {}), { width: 12 });
    expect(text).toBe(
      [
        '[4K, 8K)       12 |@@@@@@@@@@@@|',
        '[8K, 16K)       0 |            |',
        '[16K, 32K)      6 |@@@@@@      |',
        // p50: rank 9 of 18 is 9/12 into [4K, 8K); p90: rank 16.2 is 4.2/6 into [16K, 32K).
        'p50 ~ 7K  p90 ~ 27K  p99 ~ 32K  (estimated from log2 buckets: within a factor of 2), 18 values',
        '',
      ].join('\n'),
    );
  });

  test('latency buckets in time units', () => {
    const text = renderHistogram(histogramSnapshot(raw([22, 10], [25, 10]), { unit: 'ns' }), { width: 10 });
    const lines = text.split('\n');
    expect(lines[0]).toBe('[2.1ms, 4.2ms)     10 |@@@@@@@@@@|');
    expect(lines[1]).toMatch(/^\[4\.2ms, 8\.4ms\) +0 \| {10}\|$/);
    expect(lines[3]).toMatch(/^\[17ms, 34ms\) +10 \|@{10}\|$/);
    expect(lines[4]).toMatch(/^p50 ~ 4\.2ms {2}p90 ~ 30ms {2}p99 ~ 33ms {2}\(estimated from log2 buckets: within a factor of 2\), 20 values$/);
  });

  test('a small count still shows one @; the zero bucket reads [0]', () => {
    const text = renderHistogram(histogramSnapshot(raw([0, 1], [1, 1000]), {}), { width: 20 });
    expect(text.split('\n')[0]).toBe('[0]           1 |@                   |');
    expect(text.split('\n')[1]).toBe('[1, 2)     1000 |@@@@@@@@@@@@@@@@@@@@|');
  });

  test('empty', () => {
    expect(renderHistogram(histogramSnapshot(new Float64Array(HIST_BUCKETS)))).toBe('(no values)\n');
  });
});

describe('renderCounts', () => {
  test('largest first, the key after the probe', () => {
    const text = renderCounts(
      [
        { probe: 'syscall:openat', label: 'cat', count: 3 },
        { probe: 'syscall:openat', label: 'bash', count: 12 },
      ],
      'comm',
    );
    expect(text).toBe(`${'COUNT'.padStart(10)}  PROBE COMM\n${'12'.padStart(10)}  syscall:openat bash\n${'3'.padStart(10)}  syscall:openat cat\n`);
  });

  test('by probe: no key column', () => {
    expect(renderCounts([{ probe: 'kprobe:vfs_read', count: 7 }])).toBe(`${'COUNT'.padStart(10)}  PROBE\n${'7'.padStart(10)}  kprobe:vfs_read\n`);
  });
});

/**
 * The kernel's numbering of linear and log-linear buckets (bucket_of() in
 * bpf/kprobe_node.bpf.c), written again here as plainly as possible, so
 * that scaleBounds is checked against an independent statement of it. The
 * host tests check the kernel itself against scaleBounds.
 */
function kernelBucket(scale: BucketScale, v: number): number {
  if (scale.kind === 'linear') {
    if (v < scale.min) return 0;
    const i = Math.floor((v - scale.min) / scale.step);
    const count = (scale.max - scale.min) / scale.step;
    return i < count ? i + 1 : count + 1;
  }
  if (v < 0) return BUCKET_NEGATIVE;
  if (scale.kind === 'log2') return v === 0 ? 0 : Math.floor(Math.log2(v)) + 1;
  const per = 2 ** scale.bits;
  if (v < per) return v;
  const e = Math.floor(Math.log2(v));
  return (e - scale.bits + 1) * per + (Math.floor(v / 2 ** (e - scale.bits)) - per);
}

describe('linear and log-linear buckets', () => {
  const linear: BucketScale = { kind: 'linear', min: 100, max: 1100, step: 200 };
  const values = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 99, 100, 101, 199, 200, 1000, 1023, 1024, 1025, 4095, 4096, 5000, 65535, 65536, 1e6, 123456789];

  test.each([0, 1, 2, 3, 5])('log-linear, 2^%d per power of two: each value lies in its bucket, and the buckets tile the line', (bits) => {
    const scale: BucketScale = { kind: 'log-linear', bits };
    for (const v of values) {
      const i = kernelBucket(scale, v);
      const b = scaleBounds(scale, i);
      expect([v, b.low <= v && v < b.high]).toEqual([v, true]);
      expect(scaleIndex(scale, b.low)).toBe(i);
      // The next bucket starts where this one ends.
      expect(scaleBounds(scale, i + 1).low).toBe(b.high);
      // Width relative to the low bound is at most 2^-bits (exact below 2^bits).
      expect((b.high - b.low) / Math.max(b.low, 1)).toBeLessThanOrEqual(v < 2 ** bits ? 1 : 2 ** -bits);
    }
  });

  test('log-linear with 0 bits is log2', () => {
    for (const v of values) expect(scaleBounds({ kind: 'log-linear', bits: 0 }, kernelBucket({ kind: 'log2' }, v))).toEqual(bucketBounds(kernelBucket({ kind: 'log2' }, v)));
  });

  test('linear: one bucket below min, step-wide ones, one at and above max', () => {
    expect(scaleBounds(linear, 0)).toEqual({ low: -(2 ** 63), high: 100 });
    expect(scaleBounds(linear, 1)).toEqual({ low: 100, high: 300 });
    expect(scaleBounds(linear, 5)).toEqual({ low: 900, high: 1100 });
    expect(scaleBounds(linear, 6)).toEqual({ low: 1100, high: 2 ** 64 });
    for (const v of values) {
      const b = scaleBounds(linear, kernelBucket(linear, v));
      expect([v, b.low <= v && v < b.high]).toEqual([v, true]);
    }
  });

  test('negative values of a signed log histogram: one bucket below 0', () => {
    expect(scaleBounds({ kind: 'log-linear', bits: 3 }, BUCKET_NEGATIVE)).toEqual({ low: -(2 ** 63), high: 0 });
  });

  test('bucketSpec: what the kernel is told, and errors in the caller\'s words', () => {
    expect(bucketSpec({ linear: { min: 0, max: 2000, step: 200 } })).toEqual({
      scale: { kind: 'linear', min: 0, max: 2000, step: 200 },
      spec: { mode: BucketMode.Linear, min: 0n, step: 200n, count: 10 },
    });
    // A range that is not a whole number of steps ends at the step above max.
    expect(bucketSpec({ linear: { min: 0, max: 1000, step: 300 } }).scale).toEqual({ kind: 'linear', min: 0, max: 1200, step: 300 });
    expect(bucketSpec({ bits: 4 })).toEqual({ scale: { kind: 'log-linear', bits: 4 }, spec: { mode: BucketMode.LogLinear, bits: 4 } });
    expect(bucketSpec({})).toEqual({ scale: { kind: 'log2' }, spec: { mode: BucketMode.Log2 } });
    const names = { linear: '--linear', bits: '--log-linear' };
    for (const [o, re] of [
      [{ bits: 6 }, /^--log-linear must be an integer from 0 to 5/],
      [{ bits: 1.5 }, /^--log-linear must be/],
      [{ linear: { min: 0, max: 10, step: 0 } }, /^--linear: the step must be positive/],
      [{ linear: { min: 10, max: 10, step: 1 } }, /^--linear: max \(10\) must be above min \(10\)/],
      [{ linear: { min: 0, max: 100000, step: 1 } }, /^--linear: 100000 buckets .* at most 1024/],
      [{ linear: { min: 0, max: 10, step: 1 }, bits: 2 }, /do not go together/],
    ] as const) {
      let err: unknown;
      try {
        bucketSpec(o as Parameters<typeof bucketSpec>[0], names);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toMatch(re);
    }
  });

  test('percentiles of 100 known values are within the stated bound', () => {
    const known = Array.from({ length: 100 }, (_, i) => 1000 + 997 * i * i);
    const exact = (p: number) => [...known].sort((a, b) => a - b)[Math.ceil(p * known.length) - 1];
    for (const scale of [{ kind: 'log-linear', bits: 3 }, { kind: 'log-linear', bits: 5 }, { kind: 'linear', min: 0, max: 10_000_000, step: 100_000 }] as BucketScale[]) {
      const counts = new Map<number, number>();
      for (const v of known) counts.set(kernelBucket(scale, v), (counts.get(kernelBucket(scale, v)) ?? 0) + 1);
      const s = scaleSnapshot(scale, counts);
      const bound = errorBound(scale);
      for (const [p, est] of [[0.5, s.p50], [0.9, s.p90], [0.99, s.p99]] as const) {
        const err = Math.abs(est - exact(p));
        if ('relative' in bound) expect(err).toBeLessThanOrEqual(bound.relative * exact(p));
        else expect(err).toBeLessThanOrEqual(bound.absolute);
      }
    }
  });

  test('a chart of linear buckets: open buckets at the ends, percentiles labelled with their bound', () => {
    const s = scaleSnapshot(linear, new Map([[0, 2], [1, 3], [3, 1], [6, 4]]));
    expect(renderHistogram(s, { width: 4 })).toBe(
      [
        '(<100)          2 |@@  |',
        '[100, 300)      3 |@@@ |',
        '[300, 500)      0 |    |',
        '[500, 700)      1 |@   |',
        '[1100, ...)     4 |@@@@|',
        // Rank 5 of 10 is the top of [100, 300); ranks 9 and 9.9 are above max.
        'p50 ~ 300  p90 ~ >=1100  p99 ~ >=1100  (estimated from linear buckets: within ±200), 10 values',
        '',
      ].join('\n'),
    );
  });

  test('a chart of log-linear latency buckets: labels precise enough to tell them apart', () => {
    const scale: BucketScale = { kind: 'log-linear', bits: 3 };
    const ns = [3_000_000, 3_100_000, 3_300_000, 20_000_000];
    const counts = new Map<number, number>();
    for (const v of ns) counts.set(kernelBucket(scale, v), (counts.get(kernelBucket(scale, v)) ?? 0) + 1);
    const text = renderHistogram(scaleSnapshot(scale, counts, { unit: 'ns' }), { width: 4 });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\[2\.88ms, 3\.15ms\) +2 \|@@@@\|$/);
    expect(lines[1]).toMatch(/^\[3\.15ms, 3\.41ms\) +1 \|@@ +\|$/);
    expect(lines[lines.length - 2]).toMatch(/\(estimated from log-linear buckets: within ±12\.5%\), 4 values$/);
  });

  test('mergeSnapshots adds the buckets of parts', () => {
    const a = scaleSnapshot(linear, new Map([[1, 2], [2, 1]]));
    const b = scaleSnapshot(linear, new Map([[2, 5]]));
    const m = mergeSnapshots([a, b], linear);
    expect(m.buckets).toEqual([{ low: 100, high: 300, count: 2 }, { low: 300, high: 500, count: 6 }]);
    expect(m.total).toBe(8);
  });
});
