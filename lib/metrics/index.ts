/**
 * In-kernel summaries as metrics: Prometheus exposition, an HTTP endpoint,
 * prom-client and OpenTelemetry integrations. The exporter daemon's
 * configuration and reloading are in ./config.ts and ./exporter.ts, loaded
 * by `kprobe-node serve` only.
 */
export { MetricSet, prometheus } from './set';
export type { KernelSummary, MetricOptions, MetricReading, MetricSetOptions } from './set';
export { MetricsServer, serveMetrics } from './server';
export type { ServeOptions } from './server';
export { registerPromClient } from './promclient';
export type { PromClientRegistry } from './promclient';
export { histogramProducer, observeCounts } from './otel';
export type { ExponentialHistogramValue, OtelCallback, OtelHistogramData, OtelMeter, OtelMetricProducer } from './otel';
