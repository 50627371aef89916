/**
 * Run by test/host/metrics.test.ts as a plain `node` process (the OTLP
 * exporter loads its transport with import(), which jest's sandbox refuses):
 *
 *   node otlp-child.js <receiver url> <comm>
 *
 * counts openat by comm and keeps a histogram of write sizes for `comm`,
 * wired to an OTLP/HTTP exporter; prints "ready"; on a line on stdin, exports
 * once, prints the kernel's own readings as JSON and exits.
 */
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { MetricSet, countBy, histogram, histogramProducer, observeCounts } from '../../lib';

async function main(): Promise<void> {
  const [url, comm] = process.argv.slice(2);
  const opens = countBy('syscall:openat', { comm });
  const writes = histogram('syscall:write', 'count', { comm });
  const metrics = new MetricSet().add(opens, { name: 'file_opens' }).add(writes, { name: 'write_bytes' });
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url }),
    exportIntervalMillis: 3_600_000,
    metricProducers: [histogramProducer(metrics)],
  });
  const provider = new MeterProvider({ readers: [reader] });
  observeCounts(provider.getMeter('kernel'), metrics);
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  await reader.forceFlush();
  process.stdout.write(JSON.stringify({ opens: [...opens.snapshot()], writes: writes.snapshot() }) + '\n');
  await provider.shutdown();
  opens.close();
  writes.close();
  process.stdin.pause();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
