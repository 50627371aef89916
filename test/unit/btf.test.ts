/**
 * The BTF reader on the fixture (test/fixtures/kernel.c, kernel-shaped types
 * that gcc and pahole turn into BTF as the kernel's build does), checked type
 * by type against bpftool's reading of the same file; split (module) BTF
 * against a small module BTF built here on top of it. The reader against the
 * running kernel's BTF: test/host/btf-kernel.test.ts.
 */
import * as fs from 'fs';
import { Btf, Kind } from '../../lib/btf';
import { NotFoundError } from '../../lib/errors';
import { kprobeContext, compileArg } from '../../lib/fetch';
import { Source, Store } from '../../lib/sys/abi';
import { expectSameAsBpftool } from '../helpers/bpftool-dump';
import { FIXTURE_BTF, fixtureBtf, fixtureDump } from '../helpers/kernel-fixture';

describe('BTF reader on the fixture', () => {
  const btf = fixtureBtf();
  const dump = fixtureDump();

  test('Btf.load reads a standalone BTF file', () => {
    expect(btf.name).toBe('kernel.btf');
    expect(btf.base).toBeUndefined();
    expect(btf.firstId).toBe(1);
    expect(btf.ownTypes).toBe(btf.endId - 1);
    expect(btf.ownTypes).toBe(dump.types.size);
  });

  test('every type decodes as bpftool decodes it', () => {
    expect(expectSameAsBpftool(btf, dump)).toBe(btf.ownTypes);
    // The fixture keeps every kind gcc and pahole produce in the comparison
    // (DECL_TAG and TYPE_TAG come from clang builds: the host test compares
    // all of the running kernel's BTF).
    const kinds = new Set([...dump.types.values()].map((t) => t.kind));
    expect([...kinds].sort()).toEqual([
      'ARRAY', 'CONST', 'DATASEC', 'ENUM', 'ENUM64', 'FLOAT', 'FUNC', 'FUNC_PROTO', 'FWD', 'INT',
      'PTR', 'RESTRICT', 'STRUCT', 'TYPEDEF', 'UNION', 'VAR', 'VOLATILE',
    ]);
  });

  test('kind() agrees with type().kind without decoding', () => {
    for (let id = 1; id < btf.endId; id++) expect([id, btf.kind(id)]).toEqual([id, btf.type(id).kind]);
    expect(btf.kind(0)).toBe(Kind.Unknown);
    expect(() => btf.type(btf.endId)).toThrow(RangeError);
  });

  test('vfs_fsync_range: prototype and parameters', () => {
    const fn = btf.findFunction('vfs_fsync_range')!;
    expect(fn).not.toBeNull();
    expect(fn.id).toBe(dump.idsNamed('FUNC', 'vfs_fsync_range')[0]);
    const proto = dump.types.get(Number(dump.types.get(fn.id)!.attrs.type_id))!;
    expect(proto.kind).toBe('FUNC_PROTO');
    expect(fn.params.map((p) => [p.name, p.type])).toEqual(proto.items.map((i) => [i.name, Number(i.attrs.type_id)]));
    expect(fn.returnType).toBe(Number(proto.attrs.ret_type_id));
    expect(btf.prototype(fn)).toBe('int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)');
    expect(fn.btf).toBe(btf);
    // pahole gives the kernel's functions static linkage.
    expect(fn.linkage).toBe(0);
  });

  test('prototypes with void, variadic and function pointer parameters', () => {
    expect(btf.prototype(btf.findFunction('_printk')!)).toBe('int _printk(const char *fmt, ...)');
    expect(btf.findFunction('_printk')!.variadic).toBe(true);
    expect(btf.prototype(btf.findFunction('do_dentry_open')!)).toBe(
      'int do_dentry_open(struct file *f, int (*open)(struct inode *, struct file *))',
    );
    expect(btf.prototype(btf.findFunction('schedule')!)).toBe('void schedule(void)');
    expect(btf.findFunction('schedule')!.params).toEqual([]);
  });

  test('functions that do not exist', () => {
    expect(btf.findFunction('no_such_function_kn')).toBeNull();
    expect(btf.findFunction('')).toBeNull();
    // A name that is only a substring of real names is not a match.
    expect(btf.findFunction('fsync_rang')).toBeNull();
    // A struct's name is not a function's.
    expect(btf.findFunction('file')).toBeNull();
    const funcs = [...dump.types.values()].filter((t) => t.kind === 'FUNC').map((t) => t.name);
    expect(btf.functionNames().sort()).toEqual(funcs.sort());
    expect(btf.ownFunctionCount()).toBe(funcs.length);
  });

  test('struct file: members through anonymous unions', () => {
    const id = btf.findStruct('file')!;
    expect(dump.idsNamed('STRUCT', 'file')).toEqual([id]);
    for (const name of ['f_path', 'f_flags', 'f_mode', 'f_pos', 'f_inode', 'f_op', 'f_pos_lock', 'f_ra']) {
      const m = btf.findMember(id, name)!;
      const want = dump.memberPath('file', [name]);
      expect([name, m.bitOffset, m.type]).toEqual([name, want.bits, want.type]);
    }
    // Anonymous members flattened, in declaration order.
    expect(btf.memberNames(id).slice(0, 12)).toEqual([
      'f_lock', 'f_mode', 'f_op', 'f_mapping', 'private_data', 'f_inode', 'f_flags', 'f_iocb_flags', 'f_cred', 'f_owner', 'f_path', '__f_path',
    ]);
    expect(btf.findMember(id, 'no_such_member')).toBeNull();
    // Since 6.12 the kernel declares f_path const, in a union with a writable __f_path.
    expect(btf.typeToString(btf.findMember(id, 'f_path')!.type)).toBe('const struct path');
  });

  test('struct qstr has its stable layout', () => {
    const id = btf.findStruct('qstr')!;
    expect(btf.sizeOf(id)).toBe(16);
    const name = btf.findMember(id, 'name')!;
    expect(name.bitOffset).toBe(64);
    expect(btf.typeToString(name.type)).toBe('const unsigned char *');
    expect(btf.findMember(id, 'hash')!.bitOffset).toBe(0);
    expect(btf.findMember(id, 'len')!.bitOffset).toBe(32);
    expect(btf.findMember(id, 'hash_len')!.bitOffset).toBe(0);
  });

  test('C spellings of types', () => {
    const param = (fn: string, i: number) => btf.findFunction(fn)!.params[i].type;
    expect(btf.typeToString(param('vfs_fsync_range', 0))).toBe('struct file *');
    expect(btf.typeToString(param('do_sys_openat2', 1))).toBe('const char *');
    expect(btf.typeToString(param('do_sys_openat2', 1), 'filename')).toBe('const char *filename');
    expect(btf.typeToString(param('try_to_wake_up', 1))).toBe('unsigned int');
    expect(btf.typeToString(param('cpuhp_invoke_callback', 1))).toBe('enum cpuhp_state');
    expect(btf.typeToString(param('cpuhp_invoke_callback', 4), 'lastp')).toBe('struct hlist_node **lastp');
    const task = btf.findStruct('task_struct')!;
    expect(btf.typeToString(btf.findMember(task, 'comm')!.type)).toBe('char[16]');
    expect(btf.typeToString(btf.findMember(task, 'comm')!.type, 'comm')).toBe('char comm[16]');
    const fops = btf.findStruct('file_operations')!;
    expect(btf.typeToString(btf.findMember(fops, 'open')!.type)).toBe('int (*)(struct inode *, struct file *)');
    const sb = btf.findStruct('super_block')!;
    expect(btf.typeToString(btf.findMember(sb, 's_xattr')!.type, 's_xattr')).toBe('const struct xattr_handler *const *s_xattr');
    expect(btf.typeToString(0)).toBe('void');
  });

  test('skipModifiers and resolve', () => {
    const loff = btf.findFunction('vfs_fsync_range')!.params[1].type;
    expect(btf.kind(loff)).toBe(Kind.Typedef);
    // loff_t -> __kernel_loff_t -> long long int
    expect(btf.type(btf.resolve(loff))).toMatchObject({ kind: Kind.Int, name: 'long long int', size: 8, signed: true });
    const cstr = (btf.type(btf.findFunction('do_sys_openat2')!.params[1].type) as { type: number }).type;
    expect(btf.kind(cstr)).toBe(Kind.Const);
    expect(btf.type(btf.skipModifiers(cstr))).toMatchObject({ kind: Kind.Int, name: 'char' });
  });

  test('enums: values by name and signedness', () => {
    const id = btf.findEnum('cpuhp_state')!;
    const raw = dump.types.get(id)!;
    expect(raw.kind).toBe('ENUM');
    const t = btf.type(id);
    if (t.kind !== Kind.Enum) throw new Error('not an enum');
    expect(t.signed).toBe(true);
    expect(raw.attrs.encoding).toBe('SIGNED');
    expect(t.values.map((v) => [v.name, v.value])).toEqual(raw.items.map((i) => [i.name, BigInt(i.attrs.val)]));
    expect(t.values.find((v) => v.name === 'CPUHP_INVALID')!.value).toBe(-1n);
    expect(btf.findEnumerator('TCP_ESTABLISHED').map((e) => e.value)).toEqual([1n]);
    // The TCP states are an anonymous enum.
    expect(btf.type(btf.findEnumerator('TCP_CLOSE')[0].enumId).name).toBe('');
    expect(btf.findEnum('no_such_enum_kn')).toBeNull();
  });

  test('64-bit enums', () => {
    const t = btf.type(btf.findEnum('perf_callchain_context')!);
    if (t.kind !== Kind.Enum64) throw new Error(`not an ENUM64: ${t.kind}`);
    expect([t.size, t.signed]).toEqual([8, false]);
    expect(t.values.find((v) => v.name === 'PERF_CONTEXT_MAX')!.value).toBe(2n ** 64n - 4095n);
    expect(btf.findEnumerator('PERF_CONTEXT_KERNEL')).toEqual([{ enumId: t.id, value: 2n ** 64n - 128n }]);
  });

  test('bitfield members (kind_flag encoding)', () => {
    const task = btf.findStruct('task_struct')!;
    for (const name of ['sched_reset_on_fork', 'sched_contributes_to_load', 'sched_remote_wakeup']) {
      const want = dump.memberPath('task_struct', [name]);
      const m = btf.findMember(task, name)!;
      expect([name, m.bitOffset, m.bitSize]).toEqual([name, want.bits, want.bitfieldSize]);
      expect(m.bitSize).toBe(1);
    }
    // `unsigned :0` starts sched_remote_wakeup in the next 32-bit unit.
    const first = btf.findMember(task, 'sched_reset_on_fork')!.bitOffset;
    expect(btf.findMember(task, 'sched_contributes_to_load')!.bitOffset).toBe(first + 1);
    expect(btf.findMember(task, 'sched_remote_wakeup')!.bitOffset).toBe((Math.floor(first / 32) + 1) * 32);
    const rbe = btf.findStruct('ring_buffer_event')!;
    const td = btf.findMember(rbe, 'time_delta')!;
    expect([td.bitOffset, td.bitSize]).toEqual([5, 27]);
  });

  test('per-CPU variables: VARs in a DATASEC', () => {
    const sec = dump.idsNamed('DATASEC', '.data..percpu')[0];
    const t = btf.type(sec);
    if (t.kind !== Kind.Datasec) throw new Error('not a DATASEC');
    expect(t.vars.map((v) => btf.type(v.type).name)).toEqual(['current_task', 'cpu_number']);
    const cur = btf.type(t.vars[0].type);
    if (cur.kind !== Kind.Var) throw new Error('not a VAR');
    expect(btf.typeToString(cur.type)).toBe('struct task_struct *');
  });

  test('unknown modules and bad data', () => {
    expect(() => Btf.module('no_such_module_kn')).toThrow(NotFoundError);
    expect(() => Btf.module('../vmlinux')).toThrow(NotFoundError);
    expect(() => Btf.fromBuffer(Buffer.alloc(10))).toThrow(/too short/);
    const bad = Buffer.alloc(64);
    bad.writeUInt16LE(0x1234, 0);
    expect(() => Btf.fromBuffer(bad)).toThrow(/magic/);
    const whole = fs.readFileSync(FIXTURE_BTF);
    expect(() => Btf.fromBuffer(whole.subarray(0, whole.length - 100))).toThrow(/past the end/);
    expect(() => Btf.load('/nonexistent/btf')).toThrow(NotFoundError);
  });
});

/** Builds split BTF the way pahole does for a module: ids and string offsets continue after the base's. */
class SplitWriter {
  private words: number[] = [];
  private strs: Buffer[] = [Buffer.from([0])];
  private strLen = 1;
  private count = 0;

  constructor(
    readonly firstId: number,
    readonly baseStrLen: number,
  ) {}

  str(s: string): number {
    const at = this.baseStrLen + this.strLen;
    const b = Buffer.from(`${s}\0`, 'latin1');
    this.strs.push(b);
    this.strLen += b.length;
    return at;
  }

  type(nameOff: number, kind: Kind, vlen: number, kflag: boolean, sizeOrType: number, extra: number[] = []): number {
    this.words.push(nameOff, ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra);
    return this.firstId + this.count++;
  }

  build(): Buffer {
    const types = Buffer.alloc(this.words.length * 4);
    this.words.forEach((w, i) => types.writeUInt32LE(w >>> 0, i * 4));
    const strings = Buffer.concat(this.strs);
    const h = Buffer.alloc(24);
    h.writeUInt16LE(0xeb9f, 0);
    h.writeUInt8(1, 2);
    h.writeUInt32LE(24, 4);
    h.writeUInt32LE(0, 8);
    h.writeUInt32LE(types.length, 12);
    h.writeUInt32LE(types.length, 16);
    h.writeUInt32LE(strings.length, 20);
    return Buffer.concat([h, types, strings]);
  }
}

describe('split BTF (a module on top of the fixture)', () => {
  const kernel = fixtureBtf();
  const dump = fixtureDump();
  const base = fs.readFileSync(FIXTURE_BTF);
  // The header's str_len, and the string section at hdr_len + str_off.
  const baseStrLen = base.readUInt32LE(20);
  const baseStrings = base.subarray(base.readUInt32LE(4) + base.readUInt32LE(16));
  /** Offset of an existing base string, found without the reader. */
  const baseStr = (s: string) => {
    const at = baseStrings.indexOf(Buffer.from(`\0${s}\0`));
    if (at < 0) throw new Error(`no string ${s} in the fixture`);
    return at + 1;
  };
  const intId = dump.idsNamed('INT', 'int')[0];
  const uintId = dump.idsNamed('INT', 'unsigned int')[0];
  const charId = dump.idsNamed('INT', 'char')[0];
  const fileId = dump.idsNamed('STRUCT', 'file')[0];
  const filePtr = [...dump.types.values()].find((t) => t.kind === 'PTR' && Number(t.attrs.type_id) === fileId)!.id;

  const w = new SplitWriter(kernel.endId, baseStrLen);
  const S = kernel.endId;
  // struct kn_test_mod { int a; unsigned int b:3; char name[8]; };
  w.type(w.str('kn_test_mod'), Kind.Struct, 3, true, 16, [
    w.str('a'), intId, 0,
    w.str('b'), uintId, (3 << 24) | 32,
    w.str('name'), S + 1, 64,
  ]);
  w.type(0, Kind.Array, 0, false, 0, [charId, intId, 8]); // S+1: char[8]
  w.type(0, Kind.Ptr, 0, false, S); // S+2: struct kn_test_mod *
  w.type(0, Kind.Const, 0, false, charId); // S+3
  w.type(0, Kind.Ptr, 0, false, S + 3); // S+4: const char *
  // S+5: int (struct kn_test_mod *m, struct file *file, const char *name); `file` named by a base string.
  w.type(0, Kind.FuncProto, 3, false, intId, [w.str('m'), S + 2, baseStr('file'), filePtr, w.str('label'), S + 4]);
  w.type(w.str('kn_mod_fn'), Kind.Func, 1, false, S + 5); // S+6
  // A struct the base only declares (FWD), defined by the module, reached through the base's declaration.
  const fwd = [...dump.types.values()].find((t) => t.kind === 'FWD' && t.attrs.fwd_kind === 'struct')!;
  w.type(baseStr(fwd.name), Kind.Struct, 1, false, 8, [w.str('kn_size'), uintId, 32]); // S+7
  w.type(0, Kind.Ptr, 0, false, fwd.id); // S+8
  w.type(0, Kind.FuncProto, 1, false, intId, [w.str('x'), S + 8]); // S+9
  w.type(w.str('kn_mod_fn2'), Kind.Func, 1, false, S + 9); // S+10
  const mod = Btf.fromBuffer(w.build(), { base: kernel, name: 'kn_test' });

  test('ids continue after the base', () => {
    expect(mod.firstId).toBe(kernel.endId);
    expect(mod.endId).toBe(kernel.endId + 11);
    expect(mod.ownTypes).toBe(11);
    expect(mod.type(intId)).toBe(kernel.type(intId));
    expect(mod.type(S + 6)).toMatchObject({ kind: Kind.Func, name: 'kn_mod_fn' });
  });

  test('functions, structs and strings across the two', () => {
    const fn = mod.findFunction('kn_mod_fn')!;
    expect(fn.btf).toBe(mod);
    expect(mod.prototype(fn)).toBe('int kn_mod_fn(struct kn_test_mod *m, struct file *file, const char *label)');
    expect(kernel.findFunction('kn_mod_fn')).toBeNull();
    // The module sees the base's functions and types too, but `own` looks only at its own.
    expect(mod.findFunction('vfs_fsync_range')!.btf).toBe(kernel);
    expect(mod.findFunction('vfs_fsync_range', { own: true })).toBeNull();
    expect(mod.findStruct('kn_test_mod')).toBe(S);
    expect(mod.findStruct('file')).toBe(kernel.findStruct('file'));
    expect(mod.functionNames()).toEqual(expect.arrayContaining(['kn_mod_fn', 'vfs_fsync_range']));
    const s = mod.type(S);
    if (s.kind !== Kind.Struct) throw new Error('not a struct');
    expect(s.members).toEqual([
      { name: 'a', type: intId, bitOffset: 0, bitSize: 0 },
      { name: 'b', type: uintId, bitOffset: 32, bitSize: 3 },
      { name: 'name', type: S + 1, bitOffset: 64, bitSize: 0 },
    ]);
  });

  test('expressions compile against module types', () => {
    const ctx = kprobeContext(mod.findFunction('kn_mod_fn')!);
    expect(compileArg('m->name', ctx).fetch).toEqual({ source: Source.Reg, reg: 0, steps: [], store: Store.Str, size: 8, offset: 8 });
    expect(compileArg('m->b', ctx).fetch).toMatchObject({ store: Store.Mem, size: 1, offset: 4, bitOffset: 0, bitSize: 3 });
    expect(compileArg('label', ctx).fetch).toMatchObject({ source: Source.Reg, reg: 2, store: Store.Str });
    // Through the base's forward declaration to the module's definition.
    const fn2 = kprobeContext(mod.findFunction('kn_mod_fn2')!);
    expect(fn2.prototype).toBe(`int kn_mod_fn2(struct ${fwd.name} *x)`);
    expect(compileArg('x->kn_size', fn2).fetch).toMatchObject({ reg: 0, steps: [], store: Store.Mem, size: 4, offset: 4 });
    expect(() => compileArg('(struct kn_test_mod *)x', kprobeContext(kernel.findFunction('vfs_fsync_range')!))).toThrow(/unknown struct 'kn_test_mod'/);
    // The base alone only declares it.
    const fsync = kprobeContext(kernel.findFunction('vfs_fsync_range')!);
    expect(() => compileArg(`((struct ${fwd.name} *)file)->kn_size`, fsync)).toThrow(/which this BTF only declares/);
    const path = compileArg('file->f_path.dentry', ctx).fetch;
    expect(path).toMatchObject({ reg: 1, store: Store.Mem, size: 8, offset: dump.offsetOf('file', 'f_path', 'dentry') });
  });
});
