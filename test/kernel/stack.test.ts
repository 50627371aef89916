/**
 * Kernel stacks at a kprobe on a function's first instruction, in the test
 * VM (its kernel has kprobes). The probe asks the BPF program to recover the
 * caller where the kernel's unwinder misses it; x86-64's ORC unwinder finds
 * it at entry, so it must appear as frame 1 exactly once, not recovered a
 * second time. Stacks counted in the kernel at a kprobe add up to the calls.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attachKprobe, countStacks, kernelFeatures, symbolize } from '../../lib';
import type { Frame, TraceEvent } from '../../lib';

jest.setTimeout(60_000);

let dir: string;

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-stack-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** fsync(2) of a fresh file, `times` times. */
function fsyncs(times: number): void {
  for (let i = 0; i < times; i++) {
    const fd = fs.openSync(path.join(dir, `f${i}`), 'w');
    fs.writeSync(fd, 'x');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
}

/** The function name of each frame. */
const names = (frames: Frame[] | undefined) => (frames ?? []).map((f) => f.symbol ?? '?');

/** fsync's path to vfs_fsync_range: do_fsync calls it (inlined into the syscall function on Debian's 6.1). */
const CALLER = /^(do_fsync|__x64_sys_fsync|__se_sys_fsync|__do_sys_fsync)$/;

test('a kprobe at vfs_fsync_range+0: its caller is frame 1, once', async () => {
  const probe = attachKprobe('vfs_fsync_range', { stack: 'kernel', pid: process.pid });
  try {
    expect(probe.explain).toMatch(/kernel stacks: the probe is at vfs_fsync_range's first instruction, where the caller's return address is at the stack pointer/);
    const seen = new Promise<TraceEvent>((resolve) => probe.once('event', resolve));
    fsyncs(1);
    const ev = await seen;
    const kernel = symbolize(ev).kernel!;
    const n = names(kernel);
    expect(n[0]).toBe('vfs_fsync_range');
    expect(n[1]).toMatch(CALLER);
    // ORC gave the caller itself: nothing was inserted, and it is not there twice.
    expect(ev.callerAtEntry).toBeUndefined();
    expect(n[2]).not.toBe(n[1]);
    expect(n).toContain('do_syscall_64');
  } finally {
    probe.close();
  }
});

test('countStacks at a kprobe: one kernel stack, counted in the kernel, as many as the calls', () => {
  const counter = countStacks('kprobe:vfs_fsync_range', { stack: 'kernel', pid: process.pid });
  try {
    fsyncs(5);
    const snap = counter.snapshot();
    expect(snap.total).toBe(5);
    expect(snap).toHaveLength(1);
    const n = names(snap[0].kernel);
    expect(n[0]).toBe('vfs_fsync_range');
    expect(n[1]).toMatch(CALLER);
    expect(counter.folded()[0]).toMatch(/^\S+;.*;vfs_fsync_range_\[k\] 5$/);
  } finally {
    counter.close();
  }
});

test('countStacks on a syscall through its kprobe: kernel and user stacks of this process', () => {
  const counter = countStacks('syscall:fsync', { stack: 'both', pid: process.pid });
  try {
    fsyncs(3);
    const snap = counter.snapshot();
    expect(snap.reduce((t, s) => t + s.count, 0)).toBe(3);
    for (const s of snap) {
      expect(names(s.kernel)[0]).toBe('__x64_sys_fsync');
      // node's own frames, by the build id of the node binary.
      expect(s.user?.some((f) => f.module === fs.realpathSync(process.execPath))).toBe(true);
    }
  } finally {
    counter.close();
  }
});
