/**
 * An HTTP endpoint for Prometheus: GET /metrics reads the kernel then and
 * answers in the format the scraper's Accept header asks for (gzipped when
 * it accepts that); GET /healthz answers `ok`.
 *
 *   const server = await serveMetrics(metrics, { listen: '9464' });   // 127.0.0.1:9464
 *   ...; await server.close();
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { gzipSync } from 'zlib';
import { OptionError, SystemError } from '../errors';
import { CONTENT_TYPES, negotiate } from '../format/prometheus';
import type { MetricSet } from './set';

export interface ServeOptions {
  /**
   * `host:port`, `[v6 address]:port`, or a port alone, which means
   * 127.0.0.1: metrics are served on the loopback interface unless a host
   * (`0.0.0.0:9464`, `[::]:9464`) says otherwise. Port 0 takes a free one.
   */
  listen: string;
}

/** Where to listen: a bare port (or `:port`) is the loopback interface. */
export function parseListen(listen: string): { host: string; port: number } {
  if (typeof listen !== 'string') throw new OptionError('the address to listen on must be a string like 127.0.0.1:9464 or 9464');
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]\s]*):)?(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new OptionError(`cannot listen on "${listen}": give host:port, [ipv6]:port or a port (0-65535)`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

/** An HTTP server of one MetricSet. Own it: close() stops it. */
export class MetricsServer {
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  /** Starts serving `metrics`; rejects with a SystemError when the address cannot be had. */
  static start(metrics: MetricSet, opts: ServeOptions): Promise<MetricsServer> {
    const { host, port } = parseListen(opts?.listen);
    const server = http.createServer((req, res) => answer(metrics, req, res));
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(new SystemError(`cannot listen on ${host}:${port}: ${e.message}`, { errno: e.code, cause: e }));
      });
      server.listen(port, host, () => resolve(new MetricsServer(server)));
    });
  }

  /** The address and port it listens on. */
  get address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** `http://host:port/`. */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  }

  /** Stops listening and ends the open connections (scrapers keep theirs alive). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/** Accept-Encoding names gzip, with no q=0. */
function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((c) => {
    const [coding, ...params] = c.split(';').map((p) => p.trim().toLowerCase());
    return coding === 'gzip' && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

function answer(metrics: MetricSet, req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
  if (path === '/') return send(200, 'text/plain', 'kprobe-node: metrics at /metrics\n');
  if (path !== '/metrics') return send(404, 'text/plain', 'not found: metrics are at /metrics\n');
  let text: string;
  const format = negotiate(req.headers.accept);
  try {
    text = metrics.exposition(format);
  } catch (e) {
    return send(500, 'text/plain', `kprobe-node: cannot read the kernel's summaries: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  const body = gzip ? gzipSync(text) : Buffer.from(text);
  send(200, CONTENT_TYPES[format], body, gzip ? { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' } : { Vary: 'Accept-Encoding' });
}

/** Serves `metrics` over HTTP at /metrics (and /healthz). */
export function serveMetrics(metrics: MetricSet, opts: ServeOptions): Promise<MetricsServer> {
  return MetricsServer.start(metrics, opts);
}
