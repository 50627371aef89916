/**
 * Real kprobes, run inside the test VM (scripts/vmtest) whose kernel has them.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attachKprobe, attachKretprobe, attachSyscall, kernelFeatures, TraceEvent } from '../../lib';
import type { Probe } from '../../lib';
import { bpfObjectsOf, stillLoaded } from '../helpers/bpf-objects';

jest.setTimeout(60_000);

const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim();

/** Resolves with the first event of `probe` that `match` accepts. */
function next(probe: Probe, match: (ev: TraceEvent) => boolean, ms = 10_000): Promise<TraceEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching event from ${probe.name} within ${ms} ms`)), ms);
    probe.on('event', (ev) => {
      if (match(ev)) {
        clearTimeout(timer);
        resolve(ev);
      }
    });
  });
}

let dir: string;

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-kprobe-'));
});

test('a kprobe on vfs_fsync_range sees our fsync with its arguments', async () => {
  const probe = attachKprobe('vfs_fsync_range', { pid: process.pid });
  try {
    const seen = next(probe, (ev) => ev.pid === process.pid);
    const fd = fs.openSync(path.join(dir, 'a'), 'w');
    fs.writeSync(fd, 'hello');
    // fsync, not fdatasync: Debian's 6.1 reaches vfs_fsync_range from fdatasync only through inlined code.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const ev = await seen;
    expect(ev.probe).toBe('kprobe:vfs_fsync_range');
    expect(ev.comm).toBe(comm);
    expect(ev.tid).toBeGreaterThan(0);
    const args = ev.args as Record<string, unknown>;
    expect(args.datasync).toBe(0); // fsync
    expect(args.start).toBe(0n);
    expect(args.end).toBe(BigInt('0x7fffffffffffffff'));
    expect(typeof args.file).toBe('bigint');
    expect(args.file).not.toBe(0n);
  } finally {
    probe.close();
  }
});

test('a kretprobe on vfs_fsync_range returns what user space got', async () => {
  const probe = attachKretprobe('vfs_fsync_range', { pid: process.pid });
  try {
    const seen = next(probe, () => true);
    const fd = fs.openSync(path.join(dir, 'b'), 'w');
    fs.fsyncSync(fd); // succeeds: the return value is 0
    fs.closeSync(fd);
    const ev = await seen;
    expect(ev.probe).toBe('kretprobe:vfs_fsync_range');
    expect(Number(ev.ret)).toBe(0);
  } finally {
    probe.close();
  }
});

test('attachSyscall uses a kprobe on the syscall function and reads user strings', async () => {
  const file = path.join(dir, `syscall-${process.pid}`);
  fs.writeFileSync(file, 'x');
  const probe = attachSyscall('openat', { comm: 'cat' });
  try {
    expect(probe.strategy).toBe('kprobe __x64_sys_openat');
    const seen = next(probe, (ev) => (ev.args as { filename?: string }).filename === file);
    execFileSync('cat', [file]);
    const ev = await seen;
    expect(ev.comm).toBe('cat');
    expect((ev.args as { dfd: number }).dfd).toBe(-100); // AT_FDCWD
  } finally {
    probe.close();
  }
});

test('the return of a syscall through a kretprobe carries the fd', async () => {
  const probe = attachSyscall('openat', { ret: true, pid: process.pid });
  try {
    const seen = next(probe, () => true);
    const fd = fs.openSync(path.join(dir, 'c'), 'w');
    fs.closeSync(fd);
    const ev = await seen;
    expect(probe.strategy).toBe('kretprobe __x64_sys_openat');
    expect(Number(ev.ret)).toBe(fd);
  } finally {
    probe.close();
  }
});

test('closing a probe leaves no kprobe attached', () => {
  // The ids of this probe's links: other links may come and go meanwhile (earlier tests' CLI
  // runs hand theirs to a kernel worker as they exit).
  const before = bpfObjectsOf('self').links;
  const probe = attachKprobe('vfs_fsync_range');
  const mine = bpfObjectsOf('self').links.filter((id) => !before.includes(id));
  expect(mine).toHaveLength(1);
  expect(stillLoaded({ progs: [], links: mine }).links).toEqual(mine);
  probe.close();
  probe.close(); // idempotent
  expect(stillLoaded({ progs: [], links: mine }).links).toEqual([]);
});

test('killing the process that holds a kprobe detaches it', async () => {
  const lib = path.resolve(__dirname, '../../lib/index.js');
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(lib)}).attachKprobe('vfs_fsync_range'); console.log('ready'); setInterval(() => {}, 1000);`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const links = bpfObjectsOf(child.pid!).links;
    expect(links).toHaveLength(1);
    expect(stillLoaded({ progs: [], links }).links).toEqual(links);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // The kernel releases the links with the process's file descriptors.
    for (let i = 0; i < 50 && stillLoaded({ progs: [], links }).links.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(stillLoaded({ progs: [], links }).links).toEqual([]);
  } finally {
    child.kill('SIGKILL');
  }
});
