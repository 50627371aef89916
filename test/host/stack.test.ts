/**
 * Symbolized stacks on the real kernel: a user stack through frame pointers
 * naming kn_uprog's callers (even after the process has exited), a syscall
 * tracepoint's kernel stack naming the syscall entry path, the user side of
 * that syscall in libc, and the CLI's --stack and --count --stack.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Frame, attachTracepoint, attachUprobe, kernelFrames, symbolize } from '../../lib';
import { hasSnapshot } from '../../lib/sys/procfs';
import { collect, syncfs, waitForEvent } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { runCli } from '../helpers/proc';
import { Uprog, uprogFixture } from '../helpers/uprog';

jest.setTimeout(30000);

const names = (frames: Frame[] | undefined) => (frames ?? []).map((f) => f.symbol);

describeHost('stacks', { root: true, tracefs: true, tools: ['gcc', 'sync'] }, () => {
  const fixture = uprogFixture();
  const { track } = fixture;

  test('user stack of kn_add: kn_add <- kn_caller <- main, named after the process exited', async () => {
    const probe = track(attachUprobe(fixture.exe, 'kn_add', { stack: 'user' }));
    const events = collect(probe);
    const prog = new Uprog(fixture.exe);
    const pid = await prog.ready();
    await prog.go();
    const ev = await waitForEvent(events, (e) => e.pid === pid, 'kn_add');
    expect(ev.kernelStack).toBeUndefined();
    expect(ev.userStack!.length).toBeGreaterThanOrEqual(3);
    // Gone by now: the names come from the mappings snapshotted when its event was decoded.
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(hasSnapshot(pid)).toBe(true);
    const { user, kernel } = symbolize(ev);
    expect(kernel).toBeUndefined();
    expect(names(user).slice(0, 3)).toEqual(['kn_add', 'kn_caller', 'main']);
    expect(user![0]).toMatchObject({ offset: 0, module: fixture.exe, address: ev.userStack![0] });
    expect(user![1].offset).toBeGreaterThan(0);
    expect(user![1].toString()).toMatch(new RegExp(`^kn_caller\\+0x[0-9a-f]+ \\(${fixture.exe.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)$`));
  });

  test('kernel stack of syscalls:sys_enter_syncfs names the syscall entry path', async () => {
    const probe = track(attachTracepoint('syscalls:sys_enter_syncfs', { stack: 'kernel' }));
    const events = collect(probe);
    const pid = await syncfs();
    const ev = await waitForEvent(events, (e) => e.pid === pid, 'syncfs from sync');
    expect(ev.userStack).toBeUndefined();
    const { kernel } = symbolize(ev);
    expect(kernel!.length).toBeGreaterThan(1);
    // Every frame is inside a kernel function (kallsyms is readable as root).
    for (const f of kernel!) expect(f.symbol).toEqual(expect.any(String));
    expect(names(kernel).some((n) => /syscall|entry_SYSCALL/.test(n!))).toBe(true);
    expect(kernel!.every((f) => f.kernel)).toBe(true);
  });

  test('stack both on sys_enter_getpid: kernel entry path, then libc\'s getpid', async () => {
    const prog = new Uprog(fixture.exe);
    const pid = await prog.ready();
    const probe = track(attachTracepoint('syscalls:sys_enter_getpid', { stack: 'both', pid }));
    const events = collect(probe);
    await prog.go();
    const ev = await waitForEvent(events, (e) => e.pid === pid, 'getpid from kn_uprog');
    const { kernel, user } = symbolize(ev);
    expect(names(kernel).some((n) => /syscall|entry_SYSCALL/.test(n!))).toBe(true);
    // getpid keeps no frame of its own (libc is built without frame pointers), so the walk
    // goes on from main's frame pointer: main itself is skipped. Only the first frame is sure.
    expect(user![0].symbol).toBe('getpid');
    expect(path.basename(user![0].module!)).toMatch(/^libc\.so/);
  });

  test('kernelFrames: a kallsyms address plus 5 is that function +0x5', () => {
    const line = fs.readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => / [tT] do_syscall_64$/.test(l));
    expect(line).toBeDefined();
    const addr = BigInt(`0x${line!.split(' ')[0]}`);
    const [f] = kernelFrames([addr + 5n]);
    expect(f.toString()).toBe('do_syscall_64+0x5');
  });

  test('CLI --stack user: the frames under the event line', async () => {
    const r = await runCli([`uprobe:${fixture.exe}:kn_add`, '--stack', 'user', '-c', fixture.exe]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => / kn_uprog \d+ arg0=/.test(l));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(`    kn_add+0x0 (${fixture.exe})`);
    expect(lines[at + 2]).toMatch(/^ {4}kn_caller\+0x[0-9a-f]+ \(/);
    expect(lines[at + 3]).toMatch(/^ {4}main\+0x[0-9a-f]+ \(/);
  });

  test('CLI bare --stack before a target means both; the target is kept', async () => {
    const r = await runCli(['--comm', 'kn_uprog', '--stack', 'syscalls:sys_enter_getpid', '-c', fixture.exe]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ kn_uprog \d+\n( {4}\S.*\n)+ {4}--\n {4}getpid\+0x[0-9a-f]+ \(.*libc\.so.*\)\n/);
  });

  test('CLI --count --stack: most common stacks first, with their counts', async () => {
    const r = await runCli([`uprobe:${fixture.exe}:kn_add`, '--count', '--stack', 'user', '-c', `${fixture.exe} many`]);
    expect(r.code).toBe(0);
    // The program's own output ("r 42") shares stdout.
    const blocks = r.stdout.replace(/^r \d+\n/m, '').replace(/\n+$/, '').split('\n\n');
    expect(blocks).toHaveLength(2);
    const [first, second] = blocks.map((b) => b.split('\n'));
    expect(first[0]).toMatch(new RegExp(`^\\s+5  kn_uprog uprobe:${fixture.exe}:kn_add$`));
    expect(first[1]).toBe(`    kn_add+0x0 (${fixture.exe})`);
    expect(first[2]).toMatch(/^ {4}kn_other\+/);
    expect(second[0]).toMatch(/^\s+3  kn_uprog /);
    expect(second[2]).toMatch(/^ {4}kn_caller\+/);
  });
});
