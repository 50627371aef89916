/**
 * Serving metrics from the command line. `kprobe-node serve <config>`, the
 * exporter daemon, attaches the summaries the file names and serves them at
 * /metrics; SIGHUP reads the file again and applies it (a file that cannot be
 * read or attached leaves everything as it was, and says why); SIGTERM or
 * Ctrl-C detaches everything and exits. `--serve` on a summary (./summarize.ts)
 * serves that one until the command ends.
 */
import { ConfigError } from '../errors';
import { readConfig } from '../metrics/config';
import { Exporter } from '../metrics/exporter';
import { MetricsServer, parseListen, serveMetrics } from '../metrics/server';
import { MetricSet } from '../metrics/set';
import { Session } from '../core/session';
import { Counter, Histogram } from '../summary';
import { runUntilDone } from './lifecycle';
import type { TraceArgs } from './options';
import { say } from './report';

/** --serve's set, checked (address, series bound) before anything is attached. */
export function metricsFor(argv: TraceArgs): MetricSet {
  parseListen(argv.serve as string);
  return new MetricSet({ maxSeries: argv.maxSeries });
}

export async function serveConfig(argv: { config: string; listen?: string }): Promise<void> {
  // Until the handler below takes over, a SIGHUP would end the process.
  let reload = () => say('SIGHUP before the exporter started: ignored');
  process.on('SIGHUP', () => reload());

  const config = readConfig(argv.config);
  let listen = argv.listen ?? config.listen;
  if (listen === undefined) throw new ConfigError(argv.config, 'needs `listen:` (e.g. 127.0.0.1:9464), or --listen');
  const exporter = new Exporter({ maxSeries: config.maxSeries });
  exporter.apply(config);
  let server: MetricsServer;
  try {
    server = await serveMetrics(exporter.metrics, { listen });
  } catch (e) {
    exporter.close();
    throw e;
  }
  say(`serving ${config.metrics.length} metrics at ${server.url}metrics`);

  let reloading = Promise.resolve();
  reload = () => {
    reloading = reloading.then(async () => {
      const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
      let next;
      try {
        next = readConfig(argv.config);
        const r = exporter.apply(next);
        say(`reloaded ${argv.config}: ${r.attached.length} attached, ${r.detached.length} detached, ${r.kept.length} kept`);
        for (const what of r.ignored) say(`warning: ${what} does not change until a restart`);
      } catch (e) {
        return say(`reload failed, nothing changed: ${why(e)}`);
      }
      const want = argv.listen ?? next.listen;
      if (want === undefined || want === listen) return;
      try {
        const moved = await serveMetrics(exporter.metrics, { listen: want });
        await server.close();
        server = moved;
        listen = want;
        say(`serving at ${server.url}metrics`);
      } catch (e) {
        say(`still serving at ${server.url}metrics: ${why(e)}`);
      }
    });
  };

  runUntilDone({
    finish: () => {
      void server.close();
      Session.get().detachInBackground();
      exporter.close();
    },
  });
}

/** Default metric names; every series says its probe (and a histogram its expression). */
function metricOf(argv: TraceArgs, s: Counter | Histogram): { name: string; constLabels: Record<string, string> } {
  if (s instanceof Counter) return { name: argv.metric ?? 'kprobe_node_events', constLabels: { probe: s.name } };
  if (s.unit === 'ns') return { name: argv.metric ?? 'kprobe_node_latency_seconds', constLabels: { probe: s.name } };
  return { name: argv.metric ?? 'kprobe_node_value', constLabels: { probe: s.name, expression: s.what } };
}

/** --serve: the summaries at /metrics, read from the kernel at each scrape, until the command ends. */
export async function serveSummaries(argv: TraceArgs, all: (Counter | Histogram)[], metrics: MetricSet): Promise<void> {
  let server: MetricsServer;
  try {
    for (const s of all) metrics.add(s, metricOf(argv, s));
    server = await serveMetrics(metrics, { listen: argv.serve as string });
  } catch (e) {
    for (const s of all) s.close();
    throw e;
  }
  say(`serving ${all.map((s) => s.name).join(', ')} at ${server.url}metrics`);
  runUntilDone({
    duration: argv.duration,
    command: argv.c,
    finish: () => {
      void server.close();
      Session.get().detachInBackground();
      for (const s of all) s.close();
      say(`${all.reduce((n, s) => n + s.snapshot().total, 0)} events, ${all.reduce((n, s) => n + s.dropped, 0)} lost`);
    },
  });
}
