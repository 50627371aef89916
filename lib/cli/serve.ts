/**
 * `kprobe-node serve <config>`: the exporter daemon. Attaches the summaries
 * the file names and serves them at /metrics; SIGHUP reads the file again and
 * applies it (a file that cannot be read or attached leaves everything as it
 * was, and says why); SIGTERM or Ctrl-C detaches everything and exits.
 */
import { ConfigError } from '../errors';
import { readConfig } from '../metrics/config';
import { Exporter } from '../metrics/exporter';
import { MetricsServer, serveMetrics } from '../metrics/server';
import { Session } from '../core/session';
import { runUntilDone } from './lifecycle';
import { say } from './report';

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
