/**
 * Finer histograms on the real kernel: linear buckets (bpftrace's lhist) and
 * log-linear ones (each power of two split into 2^bits, bpftrace's hist(n,
 * bits)), computed in the kernel's count map, grouped by comm or pid, with
 * percentiles within their stated error bound. The values are exactly known:
 * lseek offsets and nanosleep requests that the C helper makes; the sleeps'
 * latency is known to within scheduling delay.
 */
import { histogram, latency } from '../../lib';
import type { HistogramSnapshot } from '../../lib';
import { errorBound } from '../../lib';
import { describeHost } from '../helpers/host';
import { KnSys, knsys } from '../helpers/knsys';
import { runCli } from '../helpers/proc';

jest.setTimeout(90000);

const COMM = 'kn_buckets';

/** Runs the helper with `args` under a summary made for its pid; returns the summary, closed. */
async function under<T extends { close(): void }>(exe: string, args: string[], make: (pid: number) => T): Promise<T> {
  const w = new KnSys(exe, args);
  try {
    const s = make(await w.ready());
    try {
      await w.go();
    } finally {
      s.close();
    }
    return s;
  } finally {
    w.kill();
  }
}

const rows = (s: HistogramSnapshot) => s.buckets.map((b) => [b.low, b.high, b.count]);

describeHost('linear and log-linear histograms', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  let exe: string;
  beforeAll(() => {
    exe = knsys(COMM);
  });

  test('linear buckets: each known value in its bucket; below min and at or above max in the open ends', async () => {
    const offsets = ['-5', '0', '99', '150', '150', '999', '1000', '2500'];
    const h = await under(exe, ['lseek', ...offsets], (pid) => histogram('syscall:lseek', 'offset', { pid, linear: { min: 0, max: 1000, step: 100 } }));
    const s = h.snapshot();
    expect(s.scale).toEqual({ kind: 'linear', min: 0, max: 1000, step: 100 });
    // offset is an off_t: signed, so -5 is below min, not a huge number above max.
    expect(rows(s)).toEqual([
      [-(2 ** 63), 0, 1],
      [0, 100, 2],
      [100, 200, 2],
      [900, 1000, 1],
      [1000, 2 ** 63, 2],
    ]);
    expect(s.total).toBe(8);
    expect(errorBound(s.scale)).toEqual({ absolute: 100 });
  });

  test('log-linear buckets, 4 per power of two: exact below 4, then quarter-powers', async () => {
    const offsets = ['3', '4', '5', '7', '8', '9', '10', '100', '1000', '1024'];
    const h = await under(exe, ['lseek', ...offsets], (pid) => histogram('syscall:lseek', 'offset', { pid, bits: 2 }));
    expect(rows(h.snapshot())).toEqual([
      [3, 4, 1],
      [4, 5, 1],
      [5, 6, 1],
      [7, 8, 1],
      [8, 10, 2],
      [10, 12, 1],
      [96, 112, 1],
      [896, 1024, 1],
      [1024, 1280, 1],
    ]);
  });

  test('known sleeps: the requested durations in linear and log-linear buckets, and their latency', async () => {
    const ns = ['3000000', '3000000', '12000000', '21000000'];
    const linear = await under(exe, ['nanosleep', ...ns], (pid) =>
      histogram('syscall:nanosleep', 'rqtp->tv_nsec', { pid, linear: { min: 0, max: 25_000_000, step: 5_000_000 } }),
    );
    expect(rows(linear.snapshot())).toEqual([
      [0, 5e6, 2],
      [10e6, 15e6, 1],
      [20e6, 25e6, 1],
    ]);
    const log = await under(exe, ['nanosleep', ...ns], (pid) => histogram('syscall:nanosleep', 'rqtp->tv_nsec', { pid, bits: 3 }));
    // 3 ms = 0b1011011100011011000000: 2^21 * 1.43 lies in [2^21 * 11/8, 2^21 * 12/8).
    expect(rows(log.snapshot())).toEqual([
      [2 ** 18 * 11, 2 ** 18 * 12, 2],
      [2 ** 20 * 11, 2 ** 20 * 12, 1],
      [2 ** 21 * 10, 2 ** 21 * 11, 1],
    ]);
    // The time each sleep took: at least what was asked, in that step or (a busy machine) the next.
    const took = await under(exe, ['nanosleep', ...ns], (pid) => latency('syscall:nanosleep', { pid, linear: { min: 0, max: 30_000_000, step: 5_000_000 } }));
    const t = took.snapshot();
    expect(t.total).toBe(4);
    const within = (from: number, to: number) => t.buckets.filter((b) => b.low >= from && b.low < to).reduce((n, b) => n + b.count, 0);
    expect(within(0, 10e6)).toBe(2);
    expect(within(10e6, 20e6)).toBe(1);
    expect(within(20e6, 30e6 + 1)).toBe(1);
  });

  test('p50, p90 and p99 of 100 known values are within the stated error bound', async () => {
    const values = Array.from({ length: 100 }, (_, i) => 1000 + 37 * i * i);
    const exact = (p: number) => values[Math.ceil(p * values.length) - 1];
    for (const opts of [{ bits: 3 }, { bits: 5 }, { linear: { min: 0, max: 400_000, step: 1000 } }]) {
      const h = await under(exe, ['lseek', ...values.map(String)], (pid) => histogram('syscall:lseek', 'offset', { pid, ...opts }));
      const s = h.snapshot();
      expect(s.total).toBe(100);
      const bound = errorBound(s.scale);
      for (const [p, est] of [[0.5, s.p50], [0.9, s.p90], [0.99, s.p99]]) {
        const allowed = 'relative' in bound ? bound.relative * exact(p) : bound.absolute;
        expect({ opts, p, off: Math.abs(est - exact(p)) <= allowed }).toEqual({ opts, p, off: true });
      }
    }
  });

  test('negative values of a signed value: their own bucket (close(-1) returns -EBADF)', async () => {
    const h = await under(exe, ['close', '3'], (pid) => histogram('syscall:close', 'ret', { pid, bits: 3 }));
    expect(rows(h.snapshot())).toEqual([[-(2 ** 63), 0, 3]]);
  });

  test('grouped by comm and by pid: one histogram each', async () => {
    const a = knsys('kn_buckets_a');
    const b = knsys('kn_buckets_b');
    const byComm = histogram('syscall:lseek', 'offset', { by: 'comm', bits: 1, filter: 'offset > 5000000 && offset < 5000100' });
    const byPid = latency('syscall:getppid', { by: 'pid', comm: 'kn_buckets_b' });
    let pids: number[] = [];
    try {
      const wa = new KnSys(a, ['lseek', '5000001', '5000002']);
      const wb = new KnSys(b, ['lseek', '5000003']);
      const wc = new KnSys(b, ['getppid', '4']);
      const wd = new KnSys(b, ['getppid', '2']);
      pids = await Promise.all([wa.ready(), wb.ready(), wc.ready(), wd.ready()]);
      await Promise.all([wa.go(), wb.go(), wc.go(), wd.go()]);
    } finally {
      byComm.close();
      byPid.close();
    }
    expect(byComm.by).toBe('comm');
    const groups = byComm.snapshot().groups!.filter((g) => String(g.key).startsWith('kn_buckets_'));
    expect(groups.map((g) => [g.probe, g.key, g.snapshot.total])).toEqual([
      ['syscall:lseek', 'kn_buckets_a', 2],
      ['syscall:lseek', 'kn_buckets_b', 1],
    ]);
    expect(byPid.snapshot().groups!.map((g) => [g.key, g.snapshot.total])).toEqual([
      [pids[2], 4],
      [pids[3], 2],
    ]);
  });

  describe('CLI', () => {
    test('--hist --linear: the chart with its open ends, percentiles labelled with ±step', async () => {
      const r = await runCli(['--syscall', 'lseek', '--comm', COMM, '--hist', 'offset', '--linear', '0,1000,200', '-c', `${exe} lseek 50 250 250 1500`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        [
          'syscall:lseek offset:',
          '[0, 200)        1 |@@@@@@@@@@@@@@@@@@@@                    |',
          '[200, 400)      2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|',
          '[1000, ...)     1 |@@@@@@@@@@@@@@@@@@@@                    |',
          'p50 ~ 300  p90 ~ >=1000  p99 ~ >=1000  (estimated from linear buckets: within ±200), 4 values',
          '',
        ].join('\n'),
      );
    });

    test('--latency --log-linear 3 --by comm: a chart per comm, percentiles within ±12.5%', async () => {
      const r = await runCli(['--syscall', 'nanosleep', '--comm', COMM, '--latency', '--log-linear', '3', '--by', 'comm', '-c', `${exe} nanosleep 3000000 3000000`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe(`syscall:nanosleep comm ${COMM} latency:`);
      expect(lines[1]).toMatch(/^\[\d\.\d\dms, \d\.\d\dms\) +\d+ \|@+ *\|$/);
      expect(lines[lines.length - 1]).toMatch(/^p50 ~ [\d.]+ms {2}p90 ~ [\d.]+ms {2}p99 ~ [\d.]+ms {2}\(estimated from log-linear buckets: within ±12\.5%\), 2 values$/);
    });
  });
});
