/**
 * attachSyscall on the real kernel. This kernel has no kprobes, so syscalls
 * must fall back to the syscalls:sys_enter_* / sys_exit_* tracepoints on
 * their own; where kprobes exist, a kprobe on the syscall function is expected.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NotFoundError, Probe, attachSyscall } from '../../lib';
import { Session } from '../../lib/core/session';
import { collect, errorOf, waitForEvent } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { Workload } from '../helpers/workload';

jest.setTimeout(30000);

/** Checked here directly, not through lib's kernelFeatures(). */
const kernelHasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe/type');

function runCat(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = execFile('cat', [file], (err) => (err ? reject(err) : resolve(child.pid as number)));
  });
}

describeHost('attachSyscall', { root: true, tracefs: true, tools: ['cat', 'gcc'] }, () => {
  let dir: string;
  let file: string;
  const open: Probe[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-syscall-'));
    file = path.join(dir, `unique-${process.pid}-${Date.now()}.txt`);
    fs.writeFileSync(file, 'hello\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  const attach = (...a: Parameters<typeof attachSyscall>) => {
    const p = attachSyscall(...a);
    open.push(p);
    return p;
  };

  test('openat: the strategy fits the kernel, arguments come by name', () => {
    const probe = attach('openat');
    expect(probe.name).toBe('syscall:openat');
    if (kernelHasKprobes) {
      expect(probe.kind).toBe('kprobe');
      expect(probe.strategy).toMatch(/^kprobe __\w+_sys_openat$/);
    } else {
      expect(probe.kind).toBe('tracepoint');
      expect(probe.strategy).toBe('tracepoint syscalls:sys_enter_openat');
    }
    expect(probe.args.map((a) => a.name)).toEqual(['dfd', 'filename', 'flags', 'mode']);
    expect(probe.args.find((a) => a.name === 'filename')?.type).toMatch(/char \*$/);
  });

  test('cat <file>: the event carries the file name read from user memory', async () => {
    const probe = attach('openat');
    const events = collect(probe);
    const pid = await runCat(file);
    const ev = await waitForEvent(events, (e) => e.args.filename === file, `opening ${file}`);
    expect(ev.pid).toBe(pid);
    expect(ev.comm).toBe('cat');
    expect(ev.args.dfd).toBe(-100); // AT_FDCWD
    expect(ev.ret).toBeUndefined();
  });

  test('{ pid }: only that process\'s opens arrive', async () => {
    const pathA = path.join(dir, 'opened-by-a');
    const pathB = path.join(dir, 'opened-by-b');
    const a = new Workload(['open', pathA]);
    const b = new Workload(['open', pathB]);
    const [pidA, pidB] = await Promise.all([a.ready(), b.ready()]);
    const probe = attach('openat', { pid: pidA });
    const events = collect(probe);
    // Both really open while the probe is attached: each reports its openat's result.
    const [outA, outB] = await Promise.all([a.go(), b.go()]);
    expect(outA).toEqual(['-2']);
    expect(outB).toEqual(['-2']);
    await waitForEvent(events, (e) => e.args.filename === pathA, 'from A');
    Session.get().flush();
    expect(events.map((e) => [e.pid, e.comm, e.args.filename])).toEqual([[pidA, 'kn_workload', pathA]]);
    expect(events.some((e) => e.pid === pidB)).toBe(false);
  });

  test('{ ret: true }: the return value, an fd or a negative errno, as a bigint', async () => {
    const missing = path.join(dir, 'does-not-exist');
    const w = new Workload(['open', file, missing, file]);
    const pid = await w.ready();
    const probe = attach('openat', { ret: true, pid });
    expect(probe.name).toBe('syscall:openat:return');
    if (kernelHasKprobes) expect(probe.strategy).toMatch(/^kretprobe __\w+_sys_openat$/);
    else expect(probe.strategy).toBe('tracepoint syscalls:sys_exit_openat');
    const events = collect(probe);
    const out = await w.go();
    const fds = out.map((line) => BigInt(line));
    expect(fds[0]).toBeGreaterThanOrEqual(0n);
    expect(fds[1]).toBe(-2n);
    await waitForEvent(events, () => events.length >= 3, 'for all three returns');
    Session.get().flush();
    expect(events.map((e) => e.ret)).toEqual(fds);
    expect(events.map((e) => e.ret)).toEqual([fds[0], -2n, fds[0]]);
    for (const e of events) {
      expect(e.pid).toBe(pid);
      expect(typeof e.ret).toBe('bigint');
      expect(e.args).not.toHaveProperty('ret');
    }
  });

  test('{ comm }: only tasks with that command name', async () => {
    const other = path.join(dir, 'opened-by-workload');
    const w = new Workload(['open', other]);
    await w.ready();
    const probe = attach('openat', { comm: 'cat' });
    const events = collect(probe);
    const [out] = await Promise.all([w.go(), runCat(file)]);
    expect(out).toEqual(['-2']); // the workload did open, while the probe was attached
    await waitForEvent(events, (e) => e.args.filename === file, 'from cat');
    Session.get().flush();
    expect(events.filter((e) => e.comm !== 'cat')).toEqual([]);
    expect(events.some((e) => e.args.filename === other)).toBe(false);
  });

  test('an unknown syscall is a NotFoundError with close names', () => {
    const e = errorOf(() => attach('opneat'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.code).toBe('EKN_NOT_FOUND');
    expect(e.suggestions).toContain('openat');
    expect(e.message).toContain('openat');
  });
});
