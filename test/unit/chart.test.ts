/** Histogram buckets, percentiles and the text charts and tables (lib/summary/buckets.ts, lib/format/chart.ts); no kernel. */
import { HIST_BUCKETS } from '../../lib/sys/abi';
import { bucketBounds, histogramSnapshot, percentile } from '../../lib/summary/buckets';
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

  test('signed values: negatives come first', () => {
    const s = histogramSnapshot(raw([63, 3], [5, 1]), { signed: true });
    expect(s.buckets[0]).toEqual({ low: -(2 ** 63), high: 0, count: 3 });
    expect(s.p50).toBeLessThan(0);
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
        'p50 ~ 7K  p90 ~ 27K  p99 ~ 32K  (estimated from log2 buckets), 18 values',
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
    expect(lines[4]).toMatch(/^p50 ~ 4\.2ms {2}p90 ~ 30ms {2}p99 ~ 33ms {2}\(estimated from log2 buckets\), 20 values$/);
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
