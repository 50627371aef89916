/**
 * prom-client integration: a MetricSet's metrics registered in a service's
 * own prom-client registry, so that its existing /metrics serves the kernel's
 * counts and histograms next to its own. Each is a collector that reads the
 * kernel when the registry is scraped. prom-client itself is not loaded here:
 * the registry is the caller's.
 *
 *   import { register } from 'prom-client';
 *   registerPromClient(register, metrics);
 */
import { OptionError } from '../errors';
import { MetricFamily, cumulativeBuckets, formatNumber } from '../format/prometheus';
import type { MetricSet } from './set';

/** What of prom-client's Registry this uses. */
export interface PromClientRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

interface PromValue {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/** A metric as prom-client's registry reads it: `get()` at every scrape. */
interface PromCollector {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): { name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: PromValue[] };
  /** The kernel's counts belong to their summary: reset that, not the registry's view of it. */
  reset(): void;
}

/** A family's samples as prom-client values. Counters leave `_total` to the registry (it appends it for OpenMetrics). */
function promValues(f: MetricFamily): PromValue[] {
  if (f.type === 'counter') return f.series.map((s) => ({ value: s.value, labels: Object.fromEntries(s.labels) }));
  return f.series.flatMap((s) => {
    const labels = Object.fromEntries(s.labels);
    const buckets = cumulativeBuckets(s);
    return [
      ...buckets.map((b) => ({ value: b.count, labels: { ...labels, le: formatNumber(b.le) }, metricName: `${f.name}_bucket` })),
      { value: s.snapshot.sum / s.divisor, labels, metricName: `${f.name}_sum` },
      { value: s.snapshot.total, labels, metricName: `${f.name}_count` },
    ];
  });
}

function collector(first: MetricFamily, read: () => MetricFamily | undefined): PromCollector {
  const type = first.type;
  return {
    // prom-client names a counter with its `_total` in the text format (and strips it for OpenMetrics).
    name: type === 'counter' ? `${first.name}_total` : first.name,
    help: first.help,
    type,
    aggregator: 'sum',
    get() {
      const f = read();
      return { name: this.name, help: this.help, type, aggregator: 'sum', values: f ? promValues(f) : [] };
    },
    reset() {},
  };
}

/**
 * Registers every metric of `metrics` (as they are now) and the set's own
 * counters in a prom-client registry; returns what unregisters them.
 */
export function registerPromClient(registry: PromClientRegistry, metrics: MetricSet): () => void {
  if (!registry || typeof registry.registerMetric !== 'function') throw new OptionError('registerPromClient needs a prom-client Registry (e.g. require("prom-client").register)');
  const collectors: PromCollector[] = [];
  for (const r of metrics.readings()) collectors.push(collector(r.family, () => metrics.reading(r.family.name)?.family));
  // Last: a scrape reads them after the metrics whose dropped series and lost events they report.
  for (const own of metrics.ownFamilies()) collectors.push(collector(own, () => metrics.ownFamilies().find((f) => f.name === own.name)));
  const done: string[] = [];
  try {
    for (const c of collectors) {
      registry.registerMetric(c as never);
      done.push(c.name);
    }
  } catch (e) {
    for (const name of done) registry.removeSingleMetric(name);
    throw e;
  }
  // By the names they were registered under: an OpenMetrics registry renames counters as it reads them.
  return () => {
    for (const name of done) registry.removeSingleMetric(name);
  };
}
