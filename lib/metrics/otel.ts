/**
 * OpenTelemetry integration. Counts are observable counters on a Meter of
 * @opentelemetry/api, observed from the kernel at each collection.
 * Histograms are read the same way, but the API has no instrument that takes
 * a histogram already made: recording each value would stream every event.
 * So they come from a MetricProducer, which an SDK MetricReader
 * (@opentelemetry/sdk-metrics) takes as `metricProducers`, as exponential
 * histograms of scale 0: the kernel's log2 bucket [2^k, 2^(k+1)) is bucket k,
 * count for count. (OpenTelemetry's bucket k is (2^k, 2^(k+1)]: a value of
 * exactly 2^k is one bucket higher than its rule says.) Latency is in ns,
 * the unit whose powers of two are the kernel's bounds.
 *
 *   const reader = new PeriodicExportingMetricReader({ exporter, metricProducers: [histogramProducer(metrics)] });
 *   const provider = new MeterProvider({ readers: [reader] });
 *   observeCounts(provider.getMeter('kernel'), metrics);
 *
 * Neither package is loaded here: the types below are the parts used.
 */
import { OptionError } from '../errors';
import type { HistogramSeries } from '../format/prometheus';
import type { MetricSet } from './set';

/** What of an @opentelemetry/api Meter observeCounts() uses. */
export interface OtelMeter {
  createObservableCounter(
    name: string,
    options?: { description?: string; unit?: string; valueType?: number },
  ): {
    addCallback(callback: OtelCallback): void;
    removeCallback(callback: OtelCallback): void;
  };
}

export type OtelCallback = (result: { observe(value: number, attributes?: Record<string, string>): void }) => void;

/** @opentelemetry/api's ValueType.INT. */
const INT = 0;

/**
 * Reports each count metric of `metrics` (as they are now) as an observable
 * counter of `meter`, with its key labels as attributes; returns what stops
 * reporting them.
 */
export function observeCounts(meter: OtelMeter, metrics: MetricSet): () => void {
  if (!meter || typeof meter.createObservableCounter !== 'function') throw new OptionError('observeCounts needs an OpenTelemetry Meter (metrics.getMeter(name))');
  const stops: (() => void)[] = [];
  for (const r of metrics.readings()) {
    if (r.family.type !== 'counter') continue;
    const name = r.family.name;
    const counter = meter.createObservableCounter(r.baseName, { description: r.family.help, unit: '{event}', valueType: INT });
    const callback: OtelCallback = (result) => {
      const f = metrics.reading(name)?.family;
      if (f?.type === 'counter') for (const s of f.series) result.observe(s.value, Object.fromEntries(s.labels));
    };
    counter.addCallback(callback);
    stops.push(() => counter.removeCallback(callback));
  }
  return () => stops.forEach((stop) => stop());
}

/** An exponential histogram point, as @opentelemetry/sdk-metrics' ExponentialHistogram. */
export interface ExponentialHistogramValue {
  count: number;
  sum: number;
  scale: 0;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  negative: { offset: number; bucketCounts: number[] };
}

/**
 * The kernel's buckets as an exponential histogram of scale 0: bucket 0
 * (the value 0) is the zero count, bucket [2^k, 2^(k+1)) is positive bucket
 * k. A signed value's negatives, which the kernel counts without their size,
 * are negative bucket 0.
 */
export function exponentialHistogram(s: Pick<HistogramSeries, 'snapshot'>): ExponentialHistogramValue {
  let zeroCount = 0;
  let negatives = 0;
  const positive = new Map<number, number>();
  for (const b of s.snapshot.buckets) {
    if (b.low < 0) negatives += b.count;
    else if (b.low === 0) zeroCount += b.count;
    else positive.set(Math.round(Math.log2(b.low)), b.count);
  }
  const indices = [...positive.keys()];
  const offset = indices.length ? Math.min(...indices) : 0;
  const top = indices.length ? Math.max(...indices) : -1;
  const bucketCounts: number[] = [];
  for (let k = offset; k <= top; k++) bucketCounts.push(positive.get(k) ?? 0);
  return {
    count: s.snapshot.total,
    sum: s.snapshot.sum,
    scale: 0,
    zeroCount,
    positive: { offset, bucketCounts },
    negative: { offset: 0, bucketCounts: negatives ? [negatives] : [] },
  };
}

type HrTime = [number, number];
const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** @opentelemetry/sdk-metrics' enum values (stable across its versions: exporters depend on them). */
const CUMULATIVE = 1; // AggregationTemporality.CUMULATIVE
const EXPONENTIAL_HISTOGRAM = 1 as const; // DataPointType.EXPONENTIAL_HISTOGRAM
const DOUBLE = 1; // ValueType.DOUBLE

/** One histogram metric, as @opentelemetry/sdk-metrics' ExponentialHistogramMetricData. */
export interface OtelHistogramData {
  descriptor: { name: string; description: string; unit: string; valueType: number };
  aggregationTemporality: number;
  dataPointType: typeof EXPONENTIAL_HISTOGRAM;
  dataPoints: { startTime: HrTime; endTime: HrTime; attributes: Record<string, string>; value: ExponentialHistogramValue }[];
}

/** What an SDK MetricReader asks of a MetricProducer (its `metricProducers` option). */
export interface OtelMetricProducer {
  collect(): Promise<{ resourceMetrics: { resource: never; scopeMetrics: { scope: { name: string }; metrics: OtelHistogramData[] }[] }; errors: unknown[] }>;
}

/**
 * A MetricProducer of the histogram metrics in `metrics` (those in it at each
 * collection), read from the kernel when the reader collects. Give it to the
 * reader: `new PeriodicExportingMetricReader({ exporter, metricProducers: [it] })`.
 */
export function histogramProducer(metrics: MetricSet): OtelMetricProducer {
  return {
    async collect() {
      const end = hrTime(Date.now());
      const data = metrics.readings().flatMap((r): OtelHistogramData[] => {
        if (r.family.type !== 'histogram') return [];
        return [{
          descriptor: { name: r.baseName, description: r.family.help, unit: r.unit ?? '', valueType: DOUBLE },
          aggregationTemporality: CUMULATIVE,
          dataPointType: EXPONENTIAL_HISTOGRAM,
          dataPoints: r.family.series.map((s) => ({
            startTime: hrTime(r.startMs),
            endTime: end,
            attributes: Object.fromEntries(s.labels),
            value: exponentialHistogram(s),
          })),
        }];
      });
      // The reader keeps its own resource and adds these scope metrics to it.
      return { resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope: { name: 'kprobe-node' }, metrics: data }] }, errors: [] };
    },
  };
}
