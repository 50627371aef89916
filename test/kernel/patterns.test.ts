/**
 * Summaries over patterns of kernel functions, inside the test VM (kprobes):
 * one multi-attach, each function its own part (probe id) with its own
 * counts, latency pairs and histogram in the kernel. dd and sync are the
 * workload: nothing else runs in the VM under those names.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countBy, histogram, kernelFeatures, latency } from '../../lib';

jest.setTimeout(120_000);

const dd = () => execFileSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=16', 'count=5', 'status=none']);

let dir: string;

beforeAll(() => {
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-patterns-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("countBy('vfs_*'): one attach over every match, a count per function, in the kernel", () => {
  const c = countBy('vfs_*', { comm: 'dd' });
  try {
    const probe = c.probes[0];
    expect(probe.explain).toMatch(/strategy: (one kprobe_multi link for all \d+ functions|\d+ kprobes, one per function)/);
    expect(probe.functions.length).toBeGreaterThan(20);
    dd();
    expect(c.by).toBe('probe');
    const snap = c.snapshot();
    expect(snap.find((e) => e.probe === 'kprobe:vfs_write')?.count).toBe(5);
    expect(snap.find((e) => e.probe === 'kprobe:vfs_read')?.count).toBeGreaterThanOrEqual(5);
    // Every entry is one function's.
    for (const e of snap) expect(e.probe).toMatch(/^kprobe:vfs_\w+$/);
  } finally {
    c.close();
  }
});

test("latency('vfs_[rw]*'): each function's calls paired with its own returns", () => {
  const h = latency('vfs_[rw]*', { comm: 'dd' });
  try {
    dd();
    const groups = h.snapshot().groups ?? [];
    const write = groups.find((g) => g.probe === 'kprobe:vfs_write');
    expect(write?.snapshot.total).toBe(5);
    expect(groups.find((g) => g.probe === 'kprobe:vfs_read')?.snapshot.total).toBeGreaterThanOrEqual(5);
    expect(h.snapshot().total).toBe(groups.reduce((n, g) => n + g.snapshot.total, 0));
  } finally {
    h.close();
  }
});

test("histogram('vfs_[rw]*', 'count', { bits: 2 }): a histogram per function with a count; the others are skipped", () => {
  const h = histogram('vfs_[rw]*', 'count', { comm: 'dd', bits: 2 });
  try {
    dd();
    expect(h.probes[0].skipped.length).toBeGreaterThan(0);
    expect(h.probes[0].skipped.every((s) => /count/.test(s.reason))).toBe(true);
    const write = h.snapshot().groups?.find((g) => g.probe === 'kprobe:vfs_write');
    expect(write?.snapshot.buckets).toEqual([{ low: 16, high: 20, count: 5 }]);
  } finally {
    h.close();
  }
});

test("countBy('syscall:*sync*'): kprobes on the syscalls' functions, a count per syscall", () => {
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
  const c = countBy('syscall:*sync*', { comm: 'sync' });
  try {
    expect(c.probes[0].kind).toBe('kprobe');
    execFileSync('sync', [file]);
    execFileSync('sync', [file]);
    expect(c.snapshot().map((e) => [e.probe, e.count])).toEqual([['syscall:fsync', 2]]);
  } finally {
    c.close();
  }
});
