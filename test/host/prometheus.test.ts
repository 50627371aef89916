/**
 * A real Prometheus server (started here, scraping every second) scrapes
 * `kprobe-node ... --serve`: PromQL finds exactly the opens a child made under
 * a comm of its own, histogram_quantile over a latency metric falls in the
 * bucket the kernel counted the sleeps in, and promtool accepts the
 * exposition.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeHost } from '../helpers/host';
import { Child, cliPath, run, sleep } from '../helpers/proc';
import { Prometheus } from '../helpers/prometheus';
import { Workload, copyAs, uniqueComm, workloadPath } from '../helpers/workload';

jest.setTimeout(180000);

/** `kprobe-node <args> --serve 0`, started; resolves with its /metrics URL. */
async function serving(args: string[]): Promise<{ cli: Child; url: string; hostPort: string }> {
  const cli = new Child(process.execPath, [cliPath, ...args, '--serve', '0']);
  const m = await cli.waitFor(/at (http:\/\/([\d.]+:\d+)\/metrics)/, 30000, 'stderr');
  return { cli, url: m[1], hostPort: m[2] };
}

async function stopCli(cli: Child): Promise<void> {
  cli.kill('SIGTERM');
  const { code } = await cli.exited;
  expect(code).toBe(0);
}

/** promtool's verdict on an exposition: its exit status and whatever it printed. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describeHost('Prometheus scrapes kprobe-node --serve', { root: true, tracefs: true, tools: ['prometheus', 'promtool', 'gcc'] }, () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-prom-test-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('PromQL returns exactly the files a child opened, under its comm', async () => {
    const N = 7;
    const comm = uniqueComm('knp');
    // Started first and paused: the loader's own opens are behind it before counting starts.
    const child = new Workload(['open', ...Array<string>(N).fill('/etc/hostname')], copyAs(workloadPath(), dir, comm));
    await child.ready();
    const { cli, url, hostPort } = await serving(['--syscall', 'openat', '--count']);
    const prom = await Prometheus.start([hostPort]);
    try {
      await prom.waitFor('up{job="kprobe-node"}', (s) => s.length === 1 && s[0].value === 1);
      expect(await prom.query(`kprobe_node_events_total{comm="${comm}"}`)).toEqual([]);

      await child.go();
      const got = await prom.waitFor(`kprobe_node_events_total{comm="${comm}"}`, (s) => s.length > 0);
      expect(got).toHaveLength(1);
      expect(got[0].metric).toMatchObject({ comm, probe: 'syscall:openat', job: 'kprobe-node' });
      expect(got[0].value).toBe(N);
      // Later scrapes say the same: nothing else of that comm was counted.
      await sleep(2500);
      expect((await prom.query(`kprobe_node_events_total{comm="${comm}"}`)).map((s) => s.value)).toEqual([N]);

      const [target] = await prom.targets();
      expect(target).toMatchObject({ health: 'up', lastError: '' });
      const text = await (await fetch(url)).text();
      expect(text).toContain(`kprobe_node_events_total{probe="syscall:openat",comm="${comm}"} ${N}\n`);
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    } finally {
      child.kill();
      await prom.stop();
      await stopCli(cli);
    }
  });

  test('histogram_quantile(0.5) over --latency falls in the bucket the kernel counted the sleeps in', async () => {
    const SLEEPS = 5;
    const sleepBin = spawnSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim();
    const comm = uniqueComm('kns');
    const file = copyAs(sleepBin, dir, comm);
    const { cli, url, hostPort } = await serving(['--syscall', 'clock_nanosleep', '--latency', '--comm', comm]);
    const prom = await Prometheus.start([hostPort]);
    try {
      await prom.waitFor('up{job="kprobe-node"}', (s) => s.length === 1 && s[0].value === 1);
      for (let i = 0; i < SLEEPS; i++) expect((await run(file, ['0.003'])).code).toBe(0);
      const count = await prom.waitFor('kprobe_node_latency_seconds_count{probe="syscall:clock_nanosleep"}', (s) => s.length === 1 && s[0].value === SLEEPS);
      expect(count[0].value).toBe(SLEEPS);

      // The kernel's buckets, as served: the one holding the median sleep.
      const text = await (await fetch(url)).text();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      const buckets = [...text.matchAll(/^kprobe_node_latency_seconds_bucket\{probe="syscall:clock_nanosleep",le="([^"]+)"\} (\d+)$/gm)].map((m) => ({
        le: m[1] === '+Inf' ? Infinity : Number(m[1]),
        count: Number(m[2]),
      }));
      const i = buckets.findIndex((b) => b.count >= SLEEPS / 2);
      expect(i).toBeGreaterThan(0);
      const low = buckets[i - 1].le;
      const high = buckets[i].le;
      // Every sleep took at least 3 ms: the kernel's bucket starts no lower than 2^21 ns.
      expect(low).toBeGreaterThanOrEqual((2 ** 21 - 1) / 1e9);
      expect(Number(/^kprobe_node_latency_seconds_sum\S* (\S+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(SLEEPS * 0.003);

      const q = await prom.query('histogram_quantile(0.5, kprobe_node_latency_seconds_bucket{probe="syscall:clock_nanosleep"})');
      expect(q).toHaveLength(1);
      expect(q[0].value).toBeGreaterThan(low);
      expect(q[0].value).toBeLessThanOrEqual(high);
    } finally {
      await prom.stop();
      await stopCli(cli);
    }
  });
});

describeHost('kprobe-node --serve: bad input', { root: true }, () => {
  test('is refused before anything is attached, with exit status 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--syscall', 'openat', '--count', '--serve', 'nowhere'], /cannot listen on "nowhere"/],
      [['--syscall', 'openat', '--count', '--serve', '9464', '--json'], /--serve serves the summary instead of printing it/],
      [['--syscall', 'openat', '--count', '--metric', 'x'], /--metric and --max-series go with --serve/],
      [['--syscall', 'openat', '--count', '--serve', '0', '--max-series', '0'], /maxSeries must be a positive integer/],
      [['--syscall', 'openat', '--serve', '0'], /--serve serves an in-kernel summary/],
      [['--syscall', 'openat', '--count', '--stack', '--serve', '0'], /--serve serves an in-kernel summary/],
    ];
    for (const [args, message] of cases) {
      const r = await run(process.execPath, [cliPath, ...args]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
    }
  });
});
