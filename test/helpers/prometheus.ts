/**
 * A real Prometheus server for tests (Debian's `prometheus` package): its own
 * configuration, storage and loopback port, scraping the given targets every
 * second; PromQL through its HTTP API.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Child, sleep } from './proc';

/** A port that was free a moment ago (the kernel hands out another next time). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export class Prometheus {
  private constructor(
    private readonly child: Child,
    private readonly dir: string,
    readonly url: string,
  ) {}

  /** Starts a server scraping `targets` (host:port) every second; resolves when it is ready. */
  static async start(targets: string[]): Promise<Prometheus> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-prometheus-'));
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: kprobe-node',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const child = new Child('prometheus', [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ]);
      const p = new Prometheus(child, dir, `http://127.0.0.1:${port}`);
      try {
        await p.ready();
        return p;
      } catch (e) {
        await p.stop(false);
        if (attempt >= 2) throw e; // the port may have been taken in between: try another
      }
    }
  }

  private async ready(): Promise<void> {
    const end = Date.now() + 30000;
    for (;;) {
      if (this.child.proc.exitCode !== null) throw new Error(`prometheus exited: ${this.child.stderr}`);
      try {
        const r = await fetch(`${this.url}/-/ready`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error(`prometheus not ready: ${this.child.stderr}`);
      await sleep(200);
    }
  }

  /** An instant PromQL query: its vector, or [] when empty. */
  async query(promql: string): Promise<Sample[]> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  /** The scrape targets' health and last error, as Prometheus saw them. */
  async targets(): Promise<{ scrapeUrl: string; health: string; lastError: string }[]> {
    const r = await fetch(`${this.url}/api/v1/targets`);
    const body = (await r.json()) as { data: { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] } };
    return body.data.activeTargets;
  }

  /** Polls `promql` until `ok` holds for its result; returns that result. */
  async waitFor(promql: string, ok: (s: Sample[]) => boolean, timeoutMs = 30000): Promise<Sample[]> {
    const end = Date.now() + timeoutMs;
    let last: Sample[] = [];
    for (;;) {
      last = await this.query(promql);
      if (ok(last)) return last;
      if (Date.now() > end) throw new Error(`${promql}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  async stop(removeData = true): Promise<void> {
    this.child.kill('SIGTERM');
    await Promise.race([this.child.exited, sleep(10000)]);
    this.child.kill('SIGKILL');
    if (removeData) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
