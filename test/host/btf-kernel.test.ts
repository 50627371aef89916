/**
 * The BTF reader against the running kernel's BTF: every type of
 * /sys/kernel/btf/vmlinux decoded as bpftool decodes it, the lookups that go
 * through /sys/kernel/btf (Btf.kernel(), modules, findFunctionAnywhere), and
 * the fetch compiler's offsets on this kernel's structs. The unit tests do
 * the same on a fixture (test/fixtures/kernel.c); here the reader meets what
 * a real kernel build wrote, every kind included.
 *
 * Then the proof that the unit tests do not need any of it: the unit project
 * run again with /sys/kernel/btf hidden.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { Btf, Kind, SYSFS_BTF } from '../../lib/btf';
import { NotFoundError } from '../../lib/errors';
import { Store, Source } from '../../lib/sys/abi';
import { compileArg, kprobeContext } from '../../lib/fetch';
import { codecFor, valueShape } from '../../lib/btf/values';
import { BpftoolDump, expectSameAsBpftool } from '../helpers/bpftool-dump';
import { describeHost, repoRoot } from '../helpers/host';

const VMLINUX = `${SYSFS_BTF}/vmlinux`;

describeHost('the running kernel\'s BTF', { btf: true, tools: ['bpftool'] }, () => {
  let btf: Btf;
  let dump: BpftoolDump;
  beforeAll(() => {
    btf = Btf.kernel();
    dump = BpftoolDump.of(VMLINUX);
  }, 60_000);

  test('loads vmlinux BTF quickly', () => {
    // Fresh loads (not the cached one): read the file, find where each type
    // starts, then the first lookup. The best of three: the other host suites
    // run beside this one on few cores.
    let [load, lookup] = [Infinity, Infinity];
    for (let i = 0; i < 3; i++) {
      const fresh = Btf.load(VMLINUX);
      const t0 = performance.now();
      expect(fresh.findFunction('vfs_fsync_range')).not.toBeNull();
      [load, lookup] = [Math.min(load, fresh.loadMs), Math.min(lookup, performance.now() - t0)];
    }
    process.stdout.write(`vmlinux BTF: ${btf.endId - 1} types, load ${load.toFixed(1)} ms, first lookup ${lookup.toFixed(1)} ms\n`);
    expect(load).toBeLessThan(500);
    expect(lookup).toBeLessThan(100);
  });

  test('Btf.kernel() is read once', () => {
    expect(Btf.kernel()).toBe(btf);
    expect(btf.name).toBe('vmlinux');
    expect(btf.firstId).toBe(1);
  });

  test('every type decodes as bpftool decodes it', () => {
    expect(expectSameAsBpftool(btf, dump)).toBeGreaterThan(10_000);
  }, 60_000);

  test('kind() agrees with type().kind without decoding', () => {
    for (let id = 1; id < btf.endId; id += 97) expect(btf.kind(id)).toBe(btf.type(id).kind);
    expect(() => btf.type(btf.endId)).toThrow(RangeError);
  });

  test('functions, found through /sys/kernel/btf', () => {
    const fn = Btf.findFunctionAnywhere('vfs_fsync_range')!;
    expect(fn.btf).toBe(btf);
    expect(fn.id).toBe(dump.idsNamed('FUNC', 'vfs_fsync_range')[0]);
    // fs/sync.c, unchanged for years.
    expect(btf.prototype(fn)).toBe('int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)');
    expect(btf.prototype(btf.findFunction('schedule')!)).toBe('void schedule(void)');
    expect(Btf.findFunctionAnywhere('no_such_function_kn')).toBeNull();
    expect(btf.functionNames().length).toBe([...dump.types.values()].filter((t) => t.kind === 'FUNC').length);
  });

  test('requireFunction suggests close names', () => {
    expect(Btf.requireFunction('vfs_fsync_range').name).toBe('vfs_fsync_range');
    let err: unknown;
    try {
      Btf.requireFunction('vfs_fsync_rang');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).suggestions[0]).toBe('vfs_fsync_range');
    expect((err as NotFoundError).message).toMatch(/no kernel function vfs_fsync_rang in BTF .*did you mean vfs_fsync_range/);
  });

  test('this kernel\'s struct file and task_struct, compiled', () => {
    const fsync = kprobeContext(btf.findFunction('vfs_fsync_range')!);
    expect(compileArg('file->f_path.dentry->d_name.name', fsync).fetch).toEqual({
      source: Source.Reg, reg: 0,
      steps: [
        { offset: dump.offsetOf('file', 'f_path', 'dentry'), user: false },
        { offset: dump.offsetOf('dentry', 'd_name', 'name'), user: false },
      ],
      store: Store.Str, size: 256, offset: 0,
    });
    expect(compileArg('file->f_flags', fsync).fetch).toMatchObject({ store: Store.Mem, size: 4, offset: dump.offsetOf('file', 'f_flags') });
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    expect(compileArg('p->real_parent->comm', wake).fetch).toMatchObject({
      steps: [{ offset: dump.offsetOf('task_struct', 'real_parent'), user: false }],
      store: Store.Str, size: 16, offset: dump.offsetOf('task_struct', 'comm'),
    });
    const { bits, bitfieldSize } = dump.memberPath('task_struct', ['sched_remote_wakeup']);
    expect(compileArg('p->sched_remote_wakeup', wake).fetch).toMatchObject({ offset: Math.floor(bits / 8), bitOffset: bits % 8, bitSize: bitfieldSize });
    const qstr = btf.findStruct('qstr')!;
    expect([btf.sizeOf(qstr), btf.findMember(qstr, 'name')!.bitOffset]).toEqual([16, 64]);
  });

  test("the values codec reads the kernel's own types", () => {
    const kernel = Btf.kernel();
    const codec = codecFor(kernel, kernel.findStruct('timespec64')!);
    const buf = Buffer.alloc(codec.size);
    codec.encode({ tv_sec: 1700000000n, tv_nsec: 5n }, buf, 0, 'ts');
    expect(buf.readBigInt64LE(0)).toBe(1700000000n);
    expect(codec.decode(buf, 0)).toEqual({ tv_sec: 1700000000n, tv_nsec: 5n });
    // A task's comm is a char array: a string.
    const task = valueShape(kernel, kernel.findStruct('task_struct')!);
    expect(task.k === 'struct' && task.members.find((m) => m.name === 'comm')?.shape.k).toBe('string');
  });

  test('Btf.modules() lists /sys/kernel/btf without vmlinux; module BTF continues vmlinux', () => {
    const want = fs.readdirSync(SYSFS_BTF).filter((n) => n !== 'vmlinux').sort();
    expect(Btf.modules()).toEqual(want);
    for (const name of want.slice(0, 3)) {
      const mod = Btf.module(name);
      expect([mod.name, mod.base, mod.firstId]).toEqual([name, btf, btf.endId]);
      expect(Btf.module(name)).toBe(mod);
      for (let id = mod.firstId; id < mod.endId; id += 31) expect(mod.kind(id)).not.toBe(Kind.Unknown);
    }
  });
});

describeHost('unit tests without the kernel\'s BTF', { root: true, tools: ['unshare', 'mount'] }, () => {
  test('the unit project passes with /sys/kernel/btf hidden', () => {
    // A private mount namespace, with an empty tmpfs over /sys/kernel/btf.
    const script = [
      `mount -t tmpfs -o ro none ${SYSFS_BTF} || exit 97`,
      `[ -z "$(ls -A ${SYSFS_BTF})" ] || exit 98`,
      'exec npx jest --ci --selectProjects unit',
    ].join('\n');
    const env = { ...process.env };
    delete env.JEST_WORKER_ID;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      cwd: repoRoot, env, encoding: 'utf8', maxBuffer: 64 << 20,
    });
    const out = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`exit ${r.status}: the unit tests failed without /sys/kernel/btf:\n${out.slice(-6000)}`);
    const summary = /^Tests:.*?(\d+) passed, (\d+) total/m.exec(out);
    expect(summary).not.toBeNull();
    expect(summary![1]).toBe(summary![2]);
    // The suites that once read the host's BTF ran and passed.
    for (const suite of ['btf', 'expression', 'fetch-filter', 'fetch-format', 'fuzz']) expect(out).toContain(`PASS unit dist/test/unit/${suite}.test.js`);
  }, 300_000);
});
