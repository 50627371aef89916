/**
 * The BTF reader against the running kernel's BTF, checked type by type
 * against bpftool's reading of the same file; split (module) BTF against a
 * small module BTF built here on top of vmlinux.
 */
import * as fs from 'fs';
import { Btf, Kind, BtfType } from '../../lib/btf';
import { NotFoundError } from '../../lib/errors';
import { kprobeContext, compileArg } from '../../lib/fetch';
import { Source, Store } from '../../lib/sys/abi';
import { RawType, idsNamed, memberPath, rawDump, members as rawMembers } from './bpftool-dump';

const VMLINUX = '/sys/kernel/btf/vmlinux';

const KIND_NAMES: Record<number, string> = {
  [Kind.Int]: 'INT', [Kind.Ptr]: 'PTR', [Kind.Array]: 'ARRAY', [Kind.Struct]: 'STRUCT', [Kind.Union]: 'UNION',
  [Kind.Enum]: 'ENUM', [Kind.Fwd]: 'FWD', [Kind.Typedef]: 'TYPEDEF', [Kind.Volatile]: 'VOLATILE', [Kind.Const]: 'CONST',
  [Kind.Restrict]: 'RESTRICT', [Kind.Func]: 'FUNC', [Kind.FuncProto]: 'FUNC_PROTO', [Kind.Var]: 'VAR',
  [Kind.Datasec]: 'DATASEC', [Kind.Float]: 'FLOAT', [Kind.DeclTag]: 'DECL_TAG', [Kind.TypeTag]: 'TYPE_TAG', [Kind.Enum64]: 'ENUM64',
};

/** What bpftool prints for a type, computed from the reader's decoding. */
type Shape = { kind: string; name: string; attrs: Record<string, string>; items: unknown[] };

function expected(t: BtfType): Shape {
  const a: Record<string, string> = {};
  let items: unknown[] = [];
  switch (t.kind) {
    case Kind.Int:
      Object.assign(a, { size: `${t.size}`, bits_offset: `${t.bitOffset}`, nr_bits: `${t.bits}` });
      a.encoding = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
      break;
    case Kind.Ptr: case Kind.Typedef: case Kind.Volatile: case Kind.Const: case Kind.Restrict: case Kind.TypeTag:
      a.type_id = `${t.type}`;
      break;
    case Kind.Array:
      Object.assign(a, { type_id: `${t.type}`, index_type_id: `${t.indexType}`, nr_elems: `${t.nelems}` });
      break;
    case Kind.Struct: case Kind.Union:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.members.length}` });
      items = t.members.map((m) => ({ name: m.name, type: m.type, bitsOffset: m.bitOffset, bitfieldSize: m.bitSize }));
      break;
    case Kind.Enum: case Kind.Enum64:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.values.length}`, encoding: t.signed ? 'SIGNED' : 'UNSIGNED' });
      items = t.values.map((v) => `${v.name}=${v.value}`);
      break;
    case Kind.Fwd:
      a.fwd_kind = t.union ? 'union' : 'struct';
      break;
    case Kind.Func:
      Object.assign(a, { type_id: `${t.type}`, linkage: ['static', 'global', 'extern'][t.linkage] });
      break;
    case Kind.FuncProto:
      Object.assign(a, { ret_type_id: `${t.returnType}`, vlen: `${t.params.length + (t.variadic ? 1 : 0)}` });
      items = t.params.map((p) => `${p.name}:${p.type}`).concat(t.variadic ? [':0'] : []);
      break;
    case Kind.Var:
      Object.assign(a, { type_id: `${t.type}`, linkage: ['static', 'global', 'extern'][t.linkage] });
      break;
    case Kind.Datasec:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.vars.length}` });
      items = t.vars.map((v) => `${v.type}@${v.offset}+${v.size}`);
      break;
    case Kind.Float:
      a.size = `${t.size}`;
      break;
    case Kind.DeclTag:
      Object.assign(a, { type_id: `${t.type}`, component_idx: `${t.componentIdx}` });
      break;
  }
  return { kind: KIND_NAMES[t.kind], name: t.name, attrs: a, items };
}

/** The same view of bpftool's line, restricted to the attributes compared. */
function actual(r: RawType, keys: string[]): Shape {
  const a: Record<string, string> = {};
  for (const k of keys) a[k] = r.attrs[k];
  let items: unknown[] = [];
  switch (r.kind) {
    case 'STRUCT': case 'UNION':
      items = rawMembers(r);
      break;
    case 'ENUM': case 'ENUM64':
      items = r.items.map((i) => `${i.name}=${BigInt(i.attrs.val.replace(/U?LL$/, ''))}`);
      break;
    case 'FUNC_PROTO':
      items = r.items.map((i) => `${i.name === '(anon)' ? '' : i.name}:${i.attrs.type_id}`);
      break;
    case 'DATASEC':
      items = r.items.map((i) => `${i.attrs.type_id}@${i.attrs.offset}+${i.attrs.size}`);
      break;
  }
  return { kind: r.kind, name: r.name, attrs: a, items };
}

describe('BTF reader on the running kernel', () => {
  let btf: Btf;
  beforeAll(() => {
    btf = Btf.kernel();
    rawDump();
  }, 60_000);

  test('loads vmlinux BTF quickly', () => {
    // A fresh load (not the cached one): read the file, find where each type starts.
    const fresh = Btf.load(VMLINUX);
    const t0 = performance.now();
    expect(fresh.findFunction('vfs_fsync_range')).not.toBeNull();
    const lookup = performance.now() - t0;
    process.stdout.write(`vmlinux BTF: ${fresh.endId - 1} types, load ${fresh.loadMs.toFixed(1)} ms, first lookup ${lookup.toFixed(1)} ms\n`);
    expect(fresh.loadMs).toBeLessThan(500);
    expect(lookup).toBeLessThan(100);
  });

  test('Btf.kernel() is read once', () => {
    expect(Btf.kernel()).toBe(btf);
    expect(btf.name).toBe('vmlinux');
    expect(btf.firstId).toBe(1);
  });

  test('every type decodes as bpftool decodes it', () => {
    const raw = rawDump();
    expect(btf.endId - 1).toBe([...raw.keys()].reduce((a, b) => Math.max(a, b), 0));
    let compared = 0;
    for (let id = 1; id < btf.endId; id++) {
      const mine = expected(btf.type(id));
      const theirs = actual(raw.get(id)!, Object.keys(mine.attrs));
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) expect({ id, ...mine }).toEqual({ id, ...theirs });
      compared++;
    }
    expect(compared).toBe(raw.size);
  }, 60_000);

  test('kind() agrees with type().kind without decoding', () => {
    for (let id = 1; id < btf.endId; id += 97) expect(btf.kind(id)).toBe(btf.type(id).kind);
    expect(btf.kind(0)).toBe(Kind.Unknown);
    expect(() => btf.type(btf.endId)).toThrow(RangeError);
  });

  test('vfs_fsync_range: prototype and parameters', () => {
    const fn = btf.findFunction('vfs_fsync_range')!;
    expect(fn).not.toBeNull();
    expect(fn.id).toBe(idsNamed('FUNC', 'vfs_fsync_range')[0]);
    const proto = rawDump().get(Number(rawDump().get(fn.id)!.attrs.type_id))!;
    expect(fn.params.map((p) => [p.name, p.type])).toEqual(proto.items.map((i) => [i.name, Number(i.attrs.type_id)]));
    expect(fn.returnType).toBe(Number(proto.attrs.ret_type_id));
    // fs/sync.c
    expect(btf.prototype(fn)).toBe('int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)');
    expect(fn.btf).toBe(btf);
  });

  test('prototypes with void, variadic and function pointer parameters', () => {
    expect(btf.prototype(btf.findFunction('_printk')!)).toBe('int _printk(const char *fmt, ...)');
    expect(btf.prototype(btf.findFunction('do_dentry_open')!)).toBe(
      'int do_dentry_open(struct file *f, int (*open)(struct inode *, struct file *))',
    );
    expect(btf.prototype(btf.findFunction('schedule')!)).toBe('void schedule(void)');
  });

  test('functions that do not exist', () => {
    expect(btf.findFunction('no_such_function_kn')).toBeNull();
    expect(btf.findFunction('')).toBeNull();
    // A name that is only a substring of real names is not a match.
    expect(btf.findFunction('fsync_rang')).toBeNull();
    expect(Btf.findFunctionAnywhere('vfs_fsync_range')!.btf).toBe(btf);
    expect(Btf.findFunctionAnywhere('no_such_function_kn')).toBeNull();
    expect(btf.functionNames()).toContain('vfs_fsync_range');
    expect(btf.functionNames().length).toBe([...rawDump().values()].filter((t) => t.kind === 'FUNC').length);
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

  test('struct file: members through anonymous unions', () => {
    const id = btf.findStruct('file')!;
    expect(idsNamed('STRUCT', 'file')).toContain(id);
    for (const name of ['f_path', 'f_flags', 'f_mode', 'f_pos', 'f_inode', 'f_op']) {
      const m = btf.findMember(id, name)!;
      const want = memberPath('file', [name]);
      expect([name, m.bitOffset, m.type]).toEqual([name, want.bits, want.type]);
    }
    expect(btf.memberNames(id)).toEqual(expect.arrayContaining(['f_path', 'f_flags', 'f_inode']));
    expect(btf.findMember(id, 'no_such_member')).toBeNull();
    expect(btf.typeToString(btf.findMember(id, 'f_path')!.type)).toMatch(/^(const )?struct path$/);
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
    expect(btf.typeToString(0)).toBe('void');
  });

  test('skipModifiers and resolve', () => {
    const loff = btf.findFunction('vfs_fsync_range')!.params[1].type;
    expect(btf.kind(loff)).toBe(Kind.Typedef);
    const r = btf.type(btf.resolve(loff));
    expect(r).toMatchObject({ kind: Kind.Int, size: 8, signed: true });
    const cstr = (btf.type(btf.findFunction('do_sys_openat2')!.params[1].type) as { type: number }).type;
    expect(btf.kind(cstr)).toBe(Kind.Const);
    expect(btf.type(btf.skipModifiers(cstr))).toMatchObject({ kind: Kind.Int, name: 'char' });
  });

  test('enums: values by name and signedness', () => {
    const id = btf.findEnum('cpuhp_state')!;
    const raw = rawDump().get(id)!;
    expect(raw.kind).toBe('ENUM');
    const t = btf.type(id);
    if (t.kind !== Kind.Enum) throw new Error('not an enum');
    expect(t.signed).toBe(raw.attrs.encoding === 'SIGNED');
    expect(t.values.map((v) => [v.name, v.value])).toEqual(raw.items.map((i) => [i.name, BigInt(i.attrs.val)]));
    expect(t.values.find((v) => v.name === 'CPUHP_INVALID')!.value).toBe(-1n);
    expect(btf.findEnumerator('TCP_ESTABLISHED').map((e) => e.value)).toContain(1n);
    expect(btf.findEnum('no_such_enum_kn')).toBeNull();
  });

  test('bitfield members (kind_flag encoding)', () => {
    const task = btf.findStruct('task_struct')!;
    for (const name of ['sched_reset_on_fork', 'sched_contributes_to_load', 'sched_remote_wakeup']) {
      const want = memberPath('task_struct', [name]);
      const m = btf.findMember(task, name)!;
      expect([name, m.bitOffset, m.bitSize]).toEqual([name, want.bits, want.bitfieldSize]);
      expect(m.bitSize).toBeGreaterThan(0);
    }
    const rbe = btf.findStruct('ring_buffer_event')!;
    const td = btf.findMember(rbe, 'time_delta')!;
    expect([td.bitOffset, td.bitSize]).toEqual([5, 27]);
  });

  test('unknown modules and bad data', () => {
    expect(() => Btf.module('no_such_module_kn')).toThrow(NotFoundError);
    expect(() => Btf.module('../vmlinux')).toThrow(NotFoundError);
    expect(() => Btf.fromBuffer(Buffer.alloc(10))).toThrow(/too short/);
    const bad = Buffer.alloc(64);
    bad.writeUInt16LE(0x1234, 0);
    expect(() => Btf.fromBuffer(bad)).toThrow(/magic/);
    const vm = fs.readFileSync(VMLINUX);
    expect(() => Btf.fromBuffer(vm.subarray(0, vm.length - 100))).toThrow(/past the end/);
    expect(() => Btf.load('/nonexistent/btf')).toThrow(NotFoundError);
  });

  test('Btf.modules() lists /sys/kernel/btf without vmlinux', () => {
    const want = fs.readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux').sort();
    expect(Btf.modules()).toEqual(want);
  });
});

/** Builds split BTF the way pahole does for a module: ids and string offsets continue after vmlinux's. */
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

describe('split BTF (a module on top of vmlinux)', () => {
  const kernel = Btf.kernel();
  const vm = fs.readFileSync(VMLINUX);
  const baseStrLen = vm.readUInt32LE(20);
  const baseStrings = vm.subarray(vm.readUInt32LE(4) + vm.readUInt32LE(16));
  /** Offset of an existing vmlinux string, found without the reader. */
  const baseStr = (s: string) => baseStrings.indexOf(Buffer.from(`\0${s}\0`)) + 1;
  const intId = idsNamed('INT', 'int')[0];
  const uintId = idsNamed('INT', 'unsigned int')[0];
  const charId = idsNamed('INT', 'char')[0];
  const fileId = idsNamed('STRUCT', 'file')[0];
  const filePtr = [...rawDump().values()].find((t) => t.kind === 'PTR' && Number(t.attrs.type_id) === fileId)!.id;

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
  // S+5: int (struct kn_test_mod *m, struct file *file, const char *name); `file` named by a vmlinux string.
  w.type(0, Kind.FuncProto, 3, false, intId, [w.str('m'), S + 2, baseStr('file'), filePtr, w.str('label'), S + 4]);
  w.type(w.str('kn_mod_fn'), Kind.Func, 1, false, S + 5); // S+6
  // A struct vmlinux only declares (FWD), defined by the module, reached through vmlinux's declaration.
  const fwd = [...rawDump().values()].find((t) => t.kind === 'FWD' && t.attrs.fwd_kind === 'struct')!;
  w.type(baseStr(fwd.name), Kind.Struct, 1, false, 8, [w.str('kn_size'), uintId, 32]); // S+7
  w.type(0, Kind.Ptr, 0, false, fwd.id); // S+8
  w.type(0, Kind.FuncProto, 1, false, intId, [w.str('x'), S + 8]); // S+9
  w.type(w.str('kn_mod_fn2'), Kind.Func, 1, false, S + 9); // S+10
  const mod = Btf.fromBuffer(w.build(), { base: kernel, name: 'kn_test' });

  test('ids continue after vmlinux', () => {
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
    // The module sees vmlinux's functions and types too, but `own` looks only at its own.
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
    // Through vmlinux's forward declaration to the module's definition.
    const fn2 = kprobeContext(mod.findFunction('kn_mod_fn2')!);
    expect(fn2.prototype).toBe(`int kn_mod_fn2(struct ${fwd.name} *x)`);
    expect(compileArg('x->kn_size', fn2).fetch).toMatchObject({ reg: 0, steps: [], store: Store.Mem, size: 4, offset: 4 });
    expect(() => compileArg('(struct kn_test_mod *)x', kprobeContext(kernel.findFunction('vfs_fsync_range')!))).toThrow(/unknown struct 'kn_test_mod'/);
    // vmlinux alone only declares it.
    const fsync = kprobeContext(kernel.findFunction('vfs_fsync_range')!);
    expect(() => compileArg(`((struct ${fwd.name} *)file)->kn_size`, fsync)).toThrow(/which this BTF only declares/);
    const path = compileArg('file->f_path.dentry', ctx).fetch;
    expect(path).toMatchObject({ reg: 1, store: Store.Mem, size: 8, offset: memberPath('file', ['f_path', 'dentry']).bits / 8 });
  });
});
