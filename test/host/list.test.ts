/**
 * Finding what to trace on this kernel: kernel functions from kallsyms,
 * tracepoints and syscalls, glob patterns, "did you mean" for unknown names,
 * and, on a kernel without kprobes, the tracepoints that may stand in.
 */
import * as fs from 'fs';
import { NotFoundError, UnsupportedError, attachKprobe, listFunctions, listProbes, listSyscalls } from '../../lib';
import { errorOf } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { runCli } from '../helpers/proc';

jest.setTimeout(30000);

const kernelHasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe/type');
/** Read directly, so that a bug in lib/kallsyms.ts cannot agree with itself. */
const kallsyms = fs.readFileSync('/proc/kallsyms', 'utf8');
const hasSymbol = (name: string) => new RegExp(` [tTwW] ${name}(\\t|$)`, 'm').test(kallsyms);

describeHost('listing what can be traced', { root: true, tracefs: true }, () => {
  test('listFunctions(): every kallsyms text function, sorted, in well under a second', () => {
    const t = process.hrtime.bigint();
    const all = listFunctions();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    // eslint-disable-next-line no-console
    console.log(`listFunctions(): ${all.length} functions in ${ms.toFixed(0)} ms`);
    expect(all.length).toBeGreaterThan(10_000);
    const names = all.map((f) => f.name);
    expect(names).toContain('vfs_read');
    expect(names).toContain('do_sys_openat2');
    expect(names.some((n) => n.startsWith('__pfx_'))).toBe(false);
    expect([...names].sort()).toEqual(names);
    // Loose: the machines are noisy; the real number is printed above.
    expect(ms).toBeLessThan(3000);
  });

  test("listFunctions('vfs_fsync*'): exactly the matching functions", () => {
    const names = listFunctions('vfs_fsync*').map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['vfs_fsync', 'vfs_fsync_range']));
    for (const n of names) {
      expect(n.startsWith('vfs_fsync')).toBe(true);
      expect(hasSymbol(n.replace(/\./g, '\\.'))).toBe(true);
    }
  });

  test('functions carry the module kallsyms names for them, and [bpf] or [__builtin__*] is no module', () => {
    // Modules are often absent here (test/kernel/list.test.ts loads fuse in the VM); the listing must agree either way.
    const moduleOf = new Map<string, string>();
    for (const m of kallsyms.matchAll(/^\S+ [tTwW] (\S+)\t\[(\w+)\]$/gm)) if (m[2] !== 'bpf' && !m[2].startsWith('__builtin')) moduleOf.set(m[1], m[2]);
    const listed = listFunctions();
    const withModule = listed.filter((f) => f.module !== undefined);
    expect(withModule.filter((f) => moduleOf.get(f.name) !== f.module)).toEqual([]);
    // The non-modules are real here: BPF programs sit in kallsyms as [bpf] while tests run.
    expect(listed.filter((f) => f.module === 'bpf' || f.module?.startsWith('__builtin'))).toEqual([]);
    if (moduleOf.size) expect(withModule.length).toBeGreaterThan(0);
    else expect(withModule).toEqual([]);
  });

  test("tracepoint:sched:* lists the sched tracepoints; sched:* reads the same", () => {
    const tps = listProbes('tracepoint:sched:*');
    expect(tps.map((t) => t.name)).toContain('sched:sched_switch');
    for (const t of tps) {
      expect(t.kind).toBe('tracepoint');
      expect(t.target).toBe(`tracepoint:${t.name}`);
      expect(t.name.startsWith('sched:')).toBe(true);
    }
    expect(listProbes('sched:*')).toEqual(tps);
  });

  test('syscalls by name, and a bare pattern reaches functions, tracepoints and syscalls', () => {
    expect(listSyscalls()).toEqual(expect.arrayContaining(['openat', 'fsync', 'syncfs']));
    const sys = listProbes('syscall:*sync*').map((p) => p.target);
    expect(sys).toEqual(expect.arrayContaining(['syscall:fsync', 'syscall:syncfs']));
    const mixed = listProbes('*fsync*');
    const kinds = new Set(mixed.map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['kprobe', 'syscall', 'tracepoint']);
    expect(mixed.map((p) => p.target)).toEqual(expect.arrayContaining(['vfs_fsync', 'syscall:fsync', 'tracepoint:syscalls:sys_enter_fsync']));
  });

  test('kprobe-node list: one target per line; --json; nothing matching says so', async () => {
    const r = await runCli(['list', 'vfs_fsync*']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(listFunctions('vfs_fsync*').map((f) => f.name));
    const j = await runCli(['list', 'tracepoint:sched:sched_switch', '--json']);
    expect(j.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ kind: 'tracepoint', name: 'sched:sched_switch', target: 'tracepoint:sched:sched_switch' }]);
    const none = await runCli(['list', 'kn_no_such_fn_*']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/nothing matches kn_no_such_fn_\*/);
  });

  // How fast is a benchmark's question (bench/: listing all functions); this checks what it prints.
  test('kprobe-node list (everything) lists functions, tracepoints and syscalls', async () => {
    const r = await runCli(['list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vfs_read$/m);
    expect(r.stdout).toMatch(/^tracepoint:sched:sched_switch$/m);
    expect(r.stdout).toMatch(/^syscall:openat$/m);
  });

  test('an unknown function: NotFoundError with the closest names, on any kernel', () => {
    const e = errorOf(() => attachKprobe('vfs_fsynk_range'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as unknown as NotFoundError).suggestions[0]).toBe('vfs_fsync_range');
    expect(e.message).toMatch(/did you mean vfs_fsync_range/);
    const w = errorOf(() => attachKprobe('kn_no_such_fn_*'));
    expect(w).toBeInstanceOf(NotFoundError);
    expect(w.message).toMatch(/no kernel function that can be probed matches kn_no_such_fn_\*/);
  });

  // Where kprobes exist, test/kernel/list.test.ts checks that these names attach and fire.
  (kernelHasKprobes ? test.skip : test)('no kprobes here: the error names tracepoints that may stand in', () => {
    const tcp = errorOf(() => attachKprobe('tcp_sendmsg'));
    expect(tcp).toBeInstanceOf(UnsupportedError);
    expect((tcp as unknown as UnsupportedError).feature).toBe('kprobes');
    expect(tcp.message).toMatch(/Tracepoints that may stand in for tcp_sendmsg: tcp:tcp_/);
    const sched = errorOf(() => attachKprobe('sched_fork'));
    expect(sched.message).toMatch(/stand in for sched_fork: sched:sched_process_fork,/);
    const kfree = errorOf(() => attachKprobe('kfree'));
    expect(kfree.message).toMatch(/stand in for kfree: kmem:kfree/);
    const sys = errorOf(() => attachKprobe(`__x64_sys_openat`));
    if (process.arch === 'x64') expect(sys.message).toMatch(/use --syscall openat/);
    const none = errorOf(() => attachKprobe('vfs_fsync_range'));
    expect(none.message).toMatch(/No tracepoint shares vfs_fsync_range's name or prefix/);
  });
});
