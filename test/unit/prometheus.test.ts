/**
 * The Prometheus/OpenMetrics renderer and the OpenTelemetry bucket mapping,
 * without a kernel: names and labels in the grammar, escaping, content
 * negotiation, and buckets that are exact for every integer the kernel can
 * count.
 */
import { CounterFamily, HistogramFamily, cumulativeBuckets, exposition, labelName, metricName, negotiate } from '../../lib/format/prometheus';
import { exponentialHistogram } from '../../lib/metrics/otel';
import { parseListen } from '../../lib/metrics/server';
import { HistogramSnapshot, histogramSnapshot } from '../../lib/summary/buckets';
import { HIST_BUCKETS } from '../../lib/sys/abi';
import { rng } from '../helpers/rng';

/** The kernel's bucket of an integer (bpf/kprobe_node.bpf.c, log2_bucket). */
function kernelBucket(v: bigint): number {
  if (v === 0n) return 0;
  return Math.min(v.toString(2).length, HIST_BUCKETS - 1);
}

function snapshotOf(values: bigint[], signed = false): HistogramSnapshot {
  const counts = new Float64Array(HIST_BUCKETS);
  for (const v of values) counts[kernelBucket(BigInt.asUintN(64, v))]++;
  return histogramSnapshot(counts, { signed, sum: values.reduce((a, b) => a + b, 0n) });
}

describe('names and labels', () => {
  test('sanitised to the Prometheus grammar', () => {
    expect(metricName('file opens/sec')).toBe('file_opens_sec');
    expect(metricName('9lives')).toBe('_9lives');
    expect(metricName('ns:metric_1')).toBe('ns:metric_1');
    expect(labelName('file->f_flags')).toBe('file_f_flags');
    expect(labelName('d_name.name')).toBe('d_name_name');
    expect(labelName('__reserved')).toBe('_reserved');
    expect(labelName('0x')).toBe('_0x');
    for (const raw of ['a b', 'é', '->', '', '__', '1']) {
      expect(metricName(raw)).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(labelName(raw)).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      expect(labelName(raw).startsWith('__')).toBe(false);
    }
  });
});

describe('content negotiation', () => {
  test('OpenMetrics when the scraper ranks it first, the text format otherwise', () => {
    const prometheus2 = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    expect(negotiate(prometheus2)).toBe('openmetrics');
    expect(negotiate('application/openmetrics-text')).toBe('openmetrics');
    expect(negotiate('text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5')).toBe('prometheus');
    expect(negotiate('application/openmetrics-text;version=0.0.1')).toBe('prometheus');
    expect(negotiate('application/json')).toBe('prometheus');
    expect(negotiate(undefined)).toBe('prometheus');
    expect(negotiate('*/*')).toBe('prometheus');
  });
});

describe('histogram buckets', () => {
  test('each cumulative bucket counts exactly the values <= its le, for any integers', () => {
    const next = rng(7);
    for (let round = 0; round < 200; round++) {
      const values = Array.from({ length: 1 + Math.floor(next() * 40) }, () => {
        const bits = Math.floor(next() * 40);
        const v = BigInt(Math.floor(next() * 2 ** bits));
        // Powers of two and their neighbours, where an off-by-one would show.
        return next() < 0.3 ? 2n ** BigInt(bits) - BigInt(Math.floor(next() * 2)) : v;
      });
      const buckets = cumulativeBuckets({ snapshot: snapshotOf(values), divisor: 1 });
      for (const b of buckets) expect(b.count).toBe(values.filter((v) => Number(v) <= b.le).length);
      expect(buckets[buckets.length - 1]).toEqual({ le: Infinity, count: values.length });
    }
  });

  test('they start one bucket below the lowest with values (so quantiles interpolate from its bound)', () => {
    const b = cumulativeBuckets({ snapshot: snapshotOf([3_000_000n, 3_100_000n]), divisor: 1e9 });
    expect(b.map((x) => x.le)).toEqual([0.002097151, 0.004194303, Infinity]);
    expect(b.map((x) => x.count)).toEqual([0, 2, 2]);
  });

  test('negative values of a signed value are at or below le="-1"', () => {
    const values = [-2n, -11n, 3n, 0n];
    const b = cumulativeBuckets({ snapshot: snapshotOf(values, true), divisor: 1 });
    expect(b).toEqual([
      { le: -1, count: 2 },
      { le: 0, count: 3 },
      { le: 1, count: 3 },
      { le: 3, count: 4 },
      { le: Infinity, count: 4 },
    ]);
    expect(snapshotOf(values, true).sum).toBe(-10);
  });

  test('an empty histogram has only +Inf', () => {
    expect(cumulativeBuckets({ snapshot: snapshotOf([]), divisor: 1 })).toEqual([{ le: Infinity, count: 0 }]);
  });
});

describe('exposition', () => {
  const counts: CounterFamily = {
    type: 'counter',
    name: 'file_opens',
    help: 'Files opened\nby "comm" \\ path',
    series: [
      { labels: [['comm', 'cat']], value: 3 },
      { labels: [['comm', 'we"ird\\name\n']], value: 1 },
    ],
  };
  const latency: HistogramFamily = {
    type: 'histogram',
    name: 'sleep_seconds',
    help: 'Sleeps',
    unit: 'seconds',
    series: [{ labels: [['probe', 'syscall:clock_nanosleep']], snapshot: snapshotOf([3_000_000n]), signed: false, divisor: 1e9 }],
  };

  test('the text format: HELP and TYPE under the sample names, escaped labels and help', () => {
    expect(exposition([counts, latency])).toBe(
      [
        '# HELP file_opens_total Files opened\\nby "comm" \\\\ path',
        '# TYPE file_opens_total counter',
        'file_opens_total{comm="cat"} 3',
        'file_opens_total{comm="we\\"ird\\\\name\\n"} 1',
        '# HELP sleep_seconds Sleeps',
        '# TYPE sleep_seconds histogram',
        'sleep_seconds_bucket{probe="syscall:clock_nanosleep",le="0.002097151"} 0',
        'sleep_seconds_bucket{probe="syscall:clock_nanosleep",le="0.004194303"} 1',
        'sleep_seconds_bucket{probe="syscall:clock_nanosleep",le="+Inf"} 1',
        'sleep_seconds_sum{probe="syscall:clock_nanosleep"} 0.003',
        'sleep_seconds_count{probe="syscall:clock_nanosleep"} 1',
        '',
      ].join('\n'),
    );
  });

  test('OpenMetrics: families without _total, quotes escaped in help, UNIT, # EOF', () => {
    const text = exposition([counts, latency], 'openmetrics');
    expect(text).toContain('# HELP file_opens Files opened\\nby \\"comm\\" \\\\ path\n# TYPE file_opens counter\nfile_opens_total{comm="cat"} 3\n');
    expect(text).toContain('# TYPE sleep_seconds histogram\n# UNIT sleep_seconds seconds\n');
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(exposition([], 'openmetrics')).toBe('# EOF\n');
    expect(exposition([])).toBe('');
  });
});

describe('OpenTelemetry exponential histograms of scale 0', () => {
  test('kernel bucket [2^i, 2^(i+1)) is positive bucket i, the value 0 the zero count, counts unchanged', () => {
    const values = [0n, 0n, 1n, 5n, 6n, 7n, 4096n, 5000n];
    const h = exponentialHistogram({ snapshot: snapshotOf(values) });
    expect(h).toEqual({ count: 8, sum: 9115, scale: 0, zeroCount: 2, positive: { offset: 0, bucketCounts: [1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2] }, negative: { offset: 0, bucketCounts: [] } });
    // Every value that is not a power of two lies in its bucket's (2^i, 2^(i+1)].
    const next = rng(3);
    for (let n = 0; n < 500; n++) {
      const v = 1 + Math.floor(next() * 2 ** Math.floor(next() * 40));
      if (Number.isInteger(Math.log2(v))) continue;
      const one = exponentialHistogram({ snapshot: snapshotOf([BigInt(v)]) });
      const i = one.positive.offset;
      expect(v > 2 ** i && v <= 2 ** (i + 1)).toBe(true);
    }
  });

  test('a signed value\'s negatives are counted in negative bucket 0', () => {
    expect(exponentialHistogram({ snapshot: snapshotOf([-2n, -5n, 3n], true) })).toMatchObject({ count: 3, sum: -4, positive: { offset: 1, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [2] } });
  });
});

describe('where to listen', () => {
  test('a bare port is the loopback interface; a host, or [v6], says otherwise', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['', 'x', '70000', 'host:', '1.2.3.4:port', '[::1]']) expect(() => parseListen(bad)).toThrow(/cannot listen on/);
  });
});
