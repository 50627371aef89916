/**
 * In-kernel latency on the kprobe path, inside the test VM (scripts/vmtest):
 * a kprobe and a kretprobe on one function, paired per thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countBy, kernelFeatures, latency } from '../../lib';
import { runCli } from '../helpers/proc';

jest.setTimeout(60_000);

const N = 12;
let dir: string;

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-agg-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fsyncs(file: string, n: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < n; i++) {
      fs.writeSync(fd, 'x');
      fs.fsyncSync(fd);
    }
  } finally {
    fs.closeSync(fd);
  }
}

test(`latency('vfs_fsync_range'): ${N} fsyncs, ${N} values in the histogram`, () => {
  const h = latency('vfs_fsync_range', { pid: process.pid });
  try {
    expect(h.probes.map((p) => p.kind)).toEqual(['kprobe', 'kretprobe']);
    fsyncs(path.join(dir, 'a'), N);
    const s = h.snapshot();
    expect(s.total).toBe(N);
    expect(s.unit).toBe('ns');
    // An fsync takes more than a nanosecond and less than a minute.
    expect(s.buckets[0].low).toBeGreaterThanOrEqual(1);
    expect(s.buckets[s.buckets.length - 1].high).toBeLessThanOrEqual(2 ** 36);
  } finally {
    h.close();
  }
});

test('countBy a string reached through pointers: the name of the file fsynced', () => {
  const c = countBy('vfs_fsync_range', { by: 'file->f_path.dentry->d_name.name', pid: process.pid });
  try {
    fsyncs(path.join(dir, 'first'), 3);
    fsyncs(path.join(dir, 'second'), 2);
    expect(c.snapshot().map((e) => [e.key, e.count])).toEqual([
      ['first', 3],
      ['second', 2],
    ]);
  } finally {
    c.close();
  }
});

test('CLI --latency vfs_fsync_range: the chart holds every fsync', async () => {
  const file = path.join(dir, 'c');
  fs.writeFileSync(file, 'x');
  // `sync FILE` fsyncs the file: one vfs_fsync_range per run.
  const cmd = Array(5).fill(`sync ${file}`).join('; ');
  // Five commands under emulation, on a busy host: far beyond runCli's default 20 s at times.
  const r = await runCli(['vfs_fsync_range', '--latency', '--comm', 'sync', '-c', cmd], { timeoutMs: 80_000 });
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toBe('kprobe:vfs_fsync_range latency:');
  const counts = lines.slice(1, -1).map((l) => Number(/\s(\d+) \|/.exec(l)?.[1]));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(5);
  expect(lines[lines.length - 1]).toMatch(/\(estimated from log2 buckets: within a factor of 2\), 5 values$/);
}, 90_000);
