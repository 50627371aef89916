/**
 * In-kernel summaries on the real kernel: counts, value histograms and
 * latency histograms, checked against a workload whose syscalls are known
 * exactly (kn_agg, a small C program built here with gcc). With -w it
 * prints its pid and waits for one byte on stdin, so that a probe with a
 * pid filter can be attached first; after that byte it prints nothing.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ExpressionError, OptionError, configure, countBy, histogram, latency } from '../../lib';
import type { HistogramSnapshot } from '../../lib';
import { describeHost, repoRoot } from '../helpers/host';
import { Child, run, runCli } from '../helpers/proc';
import { errorOf } from '../helpers/events';

jest.setTimeout(60000);

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * kn_agg [-w] MODE ARGS
 *   syncfs N M            syncfs(a) N times, then syncfs(b) M times; a, b: two fds on "/"
 *   nanosleep NS N ...    nanosleep(2) for NS nanoseconds, N times, for each pair
 *   write SIZE N ...      write(2) SIZE bytes to /dev/null, N times, for each pair
 *   open PATH N ...       openat(2) PATH, N times, for each pair
 *   getppid N             getppid(2) N times
 *   fork N                N children, each calls getppid(2) once
 */
static char buf[1 << 17];

int main(int argc, char **argv) {
  int wait_first = argc > 1 && !strcmp(argv[1], "-w");
  char **av = argv + wait_first;
  int ac = argc - wait_first;
  char line[64], c;
  int a = open("/", O_RDONLY), b = open("/", O_RDONLY), devnull = open("/dev/null", O_WRONLY);
  if (ac < 2 || a < 0 || b < 0 || devnull < 0) return 2;
  if (wait_first) {
    snprintf(line, sizeof line, "pid %d fds %d %d\n", getpid(), a, b);
    if (write(1, line, strlen(line)) < 0) return 3;
    if (read(0, &c, 1) != 1) return 4;
  }
  if (!strcmp(av[1], "syncfs") && ac == 4) {
    for (long i = 0; i < atol(av[2]); i++) syncfs(a);
    for (long i = 0; i < atol(av[3]); i++) syncfs(b);
  } else if (!strcmp(av[1], "nanosleep")) {
    for (int k = 2; k + 1 < ac; k += 2)
      for (long i = 0; i < atol(av[k + 1]); i++) {
        long ns = atol(av[k]);
        struct timespec ts = { ns / 1000000000, ns % 1000000000 };
        syscall(SYS_nanosleep, &ts, NULL);
      }
  } else if (!strcmp(av[1], "write")) {
    for (int k = 2; k + 1 < ac; k += 2)
      for (long i = 0; i < atol(av[k + 1]); i++)
        if (write(devnull, buf, atol(av[k]) % sizeof buf) < 0) return 5;
  } else if (!strcmp(av[1], "open")) {
    for (int k = 2; k + 1 < ac; k += 2)
      for (long i = 0; i < atol(av[k + 1]); i++) {
        long fd = syscall(SYS_openat, AT_FDCWD, av[k], O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close((int)fd);
      }
  } else if (!strcmp(av[1], "getppid") && ac == 3) {
    for (long i = 0; i < atol(av[2]); i++) syscall(SYS_getppid);
  } else if (!strcmp(av[1], "fork") && ac == 3) {
    for (long i = 0; i < atol(av[2]); i++) {
      pid_t p = fork();
      if (p < 0) return 6;
      if (p == 0) { syscall(SYS_getppid); _exit(0); }
      waitpid(p, NULL, 0);
    }
  } else {
    return 2;
  }
  return 0;
}
`;

/** Builds kn_agg once per source version (its comm is kn_agg). */
function aggPath(): string {
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `kprobe-node-agg-${hash}`);
  const exe = path.join(dir, 'kn_agg');
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}`;
    fs.writeFileSync(`${tmp}.c`, SOURCE);
    execFileSync('gcc', ['-O1', '-o', tmp, `${tmp}.c`], { stdio: 'pipe' });
    fs.renameSync(tmp, exe);
    fs.rmSync(`${tmp}.c`, { force: true });
  }
  return exe;
}

/** kn_agg -w: started, paused before its work. */
class Agg extends Child {
  constructor(args: string[]) {
    super(aggPath(), ['-w', ...args]);
  }

  async ready(): Promise<{ pid: number; fds: [number, number] }> {
    const m = await this.waitFor(/^pid (\d+) fds (\d+) (\d+)$/m);
    return { pid: Number(m[1]), fds: [Number(m[2]), Number(m[3])] };
  }

  async go(): Promise<void> {
    this.proc.stdin!.end('x');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`kn_agg ${code ?? signal}: ${this.stderr}`);
  }
}

/** Runs kn_agg with `args` under a summary made for its pid. */
async function withAgg<T>(args: string[], make: (pid: number, fds: [number, number]) => T): Promise<T> {
  const agg = new Agg(args);
  try {
    const { pid, fds } = await agg.ready();
    const summary = make(pid, fds);
    await agg.go();
    return summary;
  } finally {
    agg.kill();
  }
}

/** Counts of a histogram snapshot in buckets whose low bound is in [from, to). */
function within(s: HistogramSnapshot, from: number, to: number): number {
  return s.buckets.filter((b) => b.low >= from && b.low < to).reduce((n, b) => n + b.count, 0);
}

describeHost('in-kernel summaries', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  beforeAll(() => aggPath());

  describe('countBy', () => {
    test('by comm: the count is the number of calls made', async () => {
      const c = await withAgg(['syncfs', '7', '0'], (pid) => countBy('syscall:syncfs', { by: 'comm', pid }));
      try {
        expect(c.snapshot()).toEqual(Object.assign([{ key: 'kn_agg', label: 'kn_agg', count: 7 }], { dropped: 0, total: 7 }));
      } finally {
        c.close();
      }
    });

    test('by pid: one entry per process, with its own count', async () => {
      const c = countBy('syscall:syncfs', { by: 'pid', comm: 'kn_agg' });
      try {
        const a = new Agg(['syncfs', '3', '0']);
        const b = new Agg(['syncfs', '0', '5']);
        const [pa, pb] = [(await a.ready()).pid, (await b.ready()).pid];
        await Promise.all([a.go(), b.go()]);
        const snap = c.snapshot();
        expect(snap.map((e) => [e.key, e.count])).toEqual([
          [pb, 5],
          [pa, 3],
        ]);
        expect(snap.dropped).toBe(0);
      } finally {
        c.close();
      }
    });

    test('by probe: one total', async () => {
      const c = await withAgg(['getppid', '1000'], (pid) => countBy('syscall:getppid', { by: 'probe', pid }));
      c.close();
      expect(c.snapshot().map((e) => [e.key, e.count])).toEqual([['syscall:getppid', 1000]]);
    });

    test("by the value of an argument: syncfs's fd", async () => {
      let fds: number[] = [];
      const c = await withAgg(['syncfs', '4', '6'], (pid, f) => {
        fds = f;
        return countBy('syscall:syncfs', { by: 'fd', pid });
      });
      try {
        expect(c.snapshot().map((e) => [e.key, e.count])).toEqual([
          [fds[1], 6],
          [fds[0], 4],
        ]);
      } finally {
        c.close();
      }
    });

    test("by a string argument (openat's filename) and by flags, shown by name", async () => {
      const args = ['open', '/etc/hostname', '3', '/nonexistent-kn', '2', '/', '1'];
      const byName = await withAgg(args, (pid) => countBy('syscall:openat', { by: 'filename', pid }));
      byName.close();
      expect(byName.snapshot().map((e) => [e.key, e.count, e.label])).toEqual([
        ['/etc/hostname', 3, '"/etc/hostname"'],
        ['/nonexistent-kn', 2, '"/nonexistent-kn"'],
        ['/', 1, '"/"'],
      ]);
      const byFlags = await withAgg(args, (pid) => countBy('syscall:openat', { by: 'flags', pid }));
      byFlags.close();
      const O_CLOEXEC = 0o2000000;
      expect(byFlags.snapshot().map((e) => [e.key, e.count, e.label])).toEqual([[O_CLOEXEC, 6, 'O_RDONLY|O_CLOEXEC']]);
    });

    test('by the return value: ret of syncfs is 0', async () => {
      const c = await withAgg(['syncfs', '2', '0'], (pid) => countBy('syscall:syncfs', { by: 'ret', pid }));
      c.close();
      expect(c.name).toBe('syscall:syncfs:return');
      // `ret` of sys_exit is a long: a bigint, like the events' ret.
      expect(c.snapshot().map((e) => [e.key, e.count])).toEqual([[0n, 2]]);
    });

    test('reset starts from zero; close keeps the last snapshot and detaches', async () => {
      const agg1 = new Agg(['getppid', '10']);
      const agg2 = new Agg(['getppid', '20']);
      const c = countBy('syscall:getppid', { by: 'comm', comm: 'kn_agg' });
      try {
        await agg1.ready();
        await agg2.ready();
        await agg1.go();
        expect(c.snapshot().total).toBe(10);
        c.reset();
        expect(c.snapshot()).toHaveLength(0);
        await agg2.go();
        expect(c.snapshot().total).toBe(20);
      } finally {
        c.close();
      }
      expect(c.closed).toBe(true);
      expect(c.snapshot().total).toBe(20);
      expect(c.probes.every((p) => p.closed)).toBe(true);
      // Detached: a later run is not counted.
      await withAgg(['getppid', '5'], () => undefined);
      expect(c.snapshot().total).toBe(20);
    });
  });

  describe('histogram', () => {
    test('a numeric argument: write sizes land in their log2 buckets', async () => {
      const work = ['write', '100', '10', '5000', '5', '70000', '3'];
      const [bySize, byRet] = await withAgg(work, (pid) => [histogram('syscall:write', 'count', { pid }), histogram('syscall:write', 'ret', { pid })]);
      bySize.close();
      byRet.close();
      const expected = [
        { low: 64, high: 128, count: 10 },
        { low: 4096, high: 8192, count: 5 },
        { low: 65536, high: 131072, count: 3 },
      ];
      expect(bySize.snapshot().buckets).toEqual(expected);
      expect(bySize.snapshot().total).toBe(18);
      // The same sizes come back as write's return value, on the exit side.
      expect(byRet.name).toBe('syscall:write:return');
      expect(byRet.snapshot().buckets).toEqual(expected);
      // p50 is in the 100-byte bucket; p99 in the 70000-byte one.
      expect(bySize.snapshot().p50).toBeGreaterThanOrEqual(64);
      expect(bySize.snapshot().p50).toBeLessThanOrEqual(128);
      expect(bySize.snapshot().p99).toBeGreaterThanOrEqual(65536);
    });
  });

  describe('latency', () => {
    test('nanosleep 3 ms and 20 ms land in [2^21, 2^22) and [2^24, 2^25) ns (or the bucket above)', async () => {
      // 3 ms rather than 2: 2 ms plus timer slack sits right at 2^21 ns.
      const h = await withAgg(['nanosleep', '3000000', '10', '20000000', '10'], (pid) => latency('syscall:nanosleep', { pid }));
      h.close();
      const s = h.snapshot();
      expect(h.unit).toBe('ns');
      expect(s.unit).toBe('ns');
      expect(s.total).toBe(20);
      expect(within(s, 2 ** 21, 2 ** 23)).toBe(10);
      expect(within(s, 2 ** 24, 2 ** 26)).toBe(10);
      // Most land in the expected bucket itself, not the one above.
      expect(within(s, 2 ** 21, 2 ** 22)).toBeGreaterThanOrEqual(7);
      expect(within(s, 2 ** 24, 2 ** 25)).toBeGreaterThanOrEqual(7);
      expect(s.p50).toBeGreaterThanOrEqual(3e6);
      expect(s.p50).toBeLessThanOrEqual(2 ** 23);
      expect(s.p90).toBeGreaterThanOrEqual(2 ** 24);
    });

    test('a filter on the entry arguments keeps only matching calls', async () => {
      const h = await withAgg(['nanosleep', '1000000', '4', '5000000', '3'], (pid) =>
        latency('syscall:nanosleep', { pid, filter: 'rqtp->tv_nsec > 2000000' }),
      );
      h.close();
      expect(h.snapshot().total).toBe(3);
      expect(within(h.snapshot(), 2 ** 22, 2 ** 24)).toBe(3); // 5 ms: [4.2ms, 8.4ms), or the bucket above
    });
  });

  describe('errors', () => {
    test('typed errors for what cannot be summarised', () => {
      expect(errorOf(() => latency('tracepoint:sched:sched_switch'))).toBeInstanceOf(OptionError);
      expect(errorOf(() => histogram('syscall:openat', 'filename'))).toBeInstanceOf(OptionError);
      expect(errorOf(() => countBy('syscall:syncfs', { args: ['fd'] } as never))).toBeInstanceOf(OptionError);
      expect(errorOf(() => countBy('syscall:syncfs', { by: 'no_such_arg' }))).toBeInstanceOf(ExpressionError);
      expect(errorOf(() => configure({ maxCounts: 0 }))).toBeInstanceOf(OptionError);
      // The maps of this process are loaded by now.
      expect(errorOf(() => configure({ maxCounts: 100 })).message).toMatch(/before the first probe/);
    });
  });

  describe('a full count map', () => {
    const child = path.join(repoRoot, 'dist', 'test', 'host', 'aggregate-child.js');
    test.each(['configure', 'env'])('16 entries (%s), 40 processes: 16 counted, the rest reported as dropped', async (how) => {
      const env = { ...process.env, ...(how === 'env' ? { KPROBE_NODE_MAX_COUNTS: '16' } : {}) };
      const r = await run(process.execPath, [child, how, aggPath(), '40'], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { entries: number; counted: number; dropped: number; closedAfterBlock: boolean };
      expect(out.closedAfterBlock).toBe(true);
      expect(out.entries).toBe(16);
      expect(out.dropped).toBe(40 - 16);
      expect(out.counted + out.dropped).toBe(40);
    });
  });

  describe('CLI', () => {
    const SUMMARY = /^kprobe-node: (\d+) events, (\d+) lost$/m;

    test('--count: a table by comm, largest first', async () => {
      const r = await runCli(['--syscall', 'syncfs', '--comm', 'kn_agg', '--count', '-c', `${aggPath()} syncfs 3 0; ${aggPath()} syncfs 0 2`]);
      expect(r.stderr).toMatch(SUMMARY);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${'COUNT'.padStart(10)}  PROBE COMM\n${'5'.padStart(10)}  syscall:syncfs kn_agg\n`);
    });

    test('--count by=pid: one row per process', async () => {
      const r = await runCli(['--syscall', 'syncfs', '--comm', 'kn_agg', '--count', 'by=pid', '-c', `${aggPath()} syncfs 3 0; ${aggPath()} syncfs 0 2`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.replace(/\n$/, '').split('\n');
      expect(lines[0]).toBe(`${'COUNT'.padStart(10)}  PROBE PID`);
      expect(lines.slice(1).map((l) => l.replace(/\d+$/, 'PID'))).toEqual([`${'3'.padStart(10)}  syscall:syncfs PID`, `${'2'.padStart(10)}  syscall:syncfs PID`]);
    });

    test('--count by=<expr> --json: keys, labels and dropped', async () => {
      // The filter keeps the loader's and kn_agg's own opens out; its value is fetched after `flags`.
      const filter = 'filename == "/etc/hostname"';
      const r = await runCli(['--syscall', 'openat', '--comm', 'kn_agg', '--count', 'by=flags', '--filter', filter, '--json', '-c', `${aggPath()} open /etc/hostname 4 / 1`]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toEqual({ time: expect.any(String), probe: 'syscall:openat', by: 'flags', counts: [{ key: 0o2000000, count: 4, label: 'O_RDONLY|O_CLOEXEC' }], dropped: 0 });
    });

    test('--latency --syscall nanosleep: a bar chart in time units with percentiles', async () => {
      const r = await runCli(['--syscall', 'nanosleep', '--comm', 'kn_agg', '--latency', '-c', `${aggPath()} nanosleep 3000000 5`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('syscall:nanosleep latency:');
      const bars = lines.slice(1, -1);
      expect(bars[0]).toMatch(/^\[2\.1ms, 4\.2ms\) +\d+ \|@+ *\|$/);
      const counts = bars.map((l) => Number(/\s(\d+) \|/.exec(l)?.[1]));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(5);
      expect(lines[lines.length - 1]).toMatch(/^p50 ~ [\d.]+ms {2}p90 ~ [\d.]+ms {2}p99 ~ [\d.]+ms {2}\(estimated from log2 buckets: within a factor of 2\), 5 values$/);
    });

    test('--hist count --json: the buckets', async () => {
      const r = await runCli(['--syscall', 'write', '--comm', 'kn_agg', '--hist', 'count', '--json', '-c', `${aggPath()} write 5000 4`]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ probe: 'syscall:write', value: 'count', buckets: [{ low: 4096, high: 8192, count: 4 }], total: 4, dropped: 0 });
    });

    test('--interval: a table every interval, cumulative', async () => {
      const r = await runCli(['--syscall', 'getppid', '--comm', 'kn_agg', '--count', '--interval', '0.2', '-c', `${aggPath()} getppid 5; sleep 0.9`]);
      expect(r.code).toBe(0);
      const stamps = r.stdout.match(/^\[\d\d:\d\d:\d\d\]$/gm) ?? [];
      expect(stamps.length).toBeGreaterThanOrEqual(3);
      expect(r.stdout.trim().split('\n').pop()).toBe(`${'5'.padStart(10)}  syscall:getppid kn_agg`);
    });

    test('--max-counts 4: hits past a full map are reported', async () => {
      const r = await runCli(['--syscall', 'getppid', '--comm', 'kn_agg', '--count', 'by=pid', '--max-counts', '4', '-c', `${aggPath()} fork 10`]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(1 + 4);
      expect(r.stderr).toMatch(/^kprobe-node: 6 hits not counted: the count map is full \(raise --max-counts\)$/m);
      expect(SUMMARY.exec(r.stderr)?.slice(1)).toEqual(['4', '6']);
    });

    test.each([
      [['--syscall', 'getppid', '--count', '--latency'], /do not go together/],
      [['--syscall', 'getppid', '--count', '--arg', 'x'], /--arg/],
      [['--tracepoint', 'sched:sched_switch', '--latency'], /no return/],
      [['--syscall', 'getppid', '--count', '--interval', '0'], /--interval/],
    ])('bad combinations %j: exit 2', async (args, reason) => {
      const r = await runCli(args as string[]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(reason);
    });
  });
});
