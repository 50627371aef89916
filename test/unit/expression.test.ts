/**
 * Argument expressions: the parser (good and bad input, error positions) and
 * the compiler against the fixture's BTF (test/fixtures/kernel.c), with every
 * offset checked against bpftool's independent reading of the same BTF.
 */
import { ExpressionError } from '../../lib/errors';
import { MAX_STEPS, Source, Store, encodeConfig } from '../../lib/sys/abi';
import {
  CompiledArg,
  ProbeContext,
  TracepointField,
  compileArg,
  compileArgs,
  defaultArgs,
  kprobeContext,
  kretprobeContext,
  parseArg,
  rawContext,
  tracepointContext,
} from '../../lib/fetch';
import { expectError } from '../helpers/expression';
import { fixtureBtf, fixtureDump } from '../helpers/kernel-fixture';

const btf = fixtureBtf();
const dump = fixtureDump();
const offsetOf = (struct: string, ...path: string[]) => dump.offsetOf(struct, ...path);

describe('parser', () => {
  test('member chains keep positions', () => {
    const a = parseArg('file->f_path.dentry->d_name.name');
    expect(a.label).toBeUndefined();
    expect(a.exprText).toBe('file->f_path.dentry->d_name.name');
    expect(a.expr).toMatchObject({
      type: 'member', member: 'name', arrow: false, pos: 27, memberPos: 28,
      object: { type: 'member', member: 'd_name', arrow: true, pos: 19, object: { type: 'member', member: 'dentry' } },
    });
  });

  test('labels, casts, indexes, suffixes and whitespace', () => {
    const src = '  fam = ((struct sock *) sk) -> __sk_common . skc_family : u16 ';
    const a = parseArg(src);
    expect(a.label).toBe('fam');
    expect(a.exprText).toBe('((struct sock*)sk)->__sk_common.skc_family');
    expect(a.suffix).toEqual({ type: 'u16', pos: src.indexOf('u16') });
    expect(a.expr).toMatchObject({ type: 'member', object: { type: 'member', object: { type: 'cast', ctype: { tag: 'struct', name: 'sock', pointers: 1 } } } });
    expect(parseArg('(u32)arg1').expr).toMatchObject({ type: 'cast', ctype: { tag: '', name: 'u32', pointers: 0 }, operand: { name: 'arg1' } });
    expect(parseArg('(unsigned long)x').expr).toMatchObject({ type: 'cast', ctype: { name: 'unsigned long' } });
    expect(parseArg('(const char *)x').expr).toMatchObject({ type: 'cast', ctype: { name: 'char', pointers: 1 } });
    // A parenthesised name followed by '->' is not a cast.
    expect(parseArg('(file)->f_mode').expr).toMatchObject({ type: 'member', object: { type: 'name', name: 'file' } });
    expect(parseArg('x[3].y').expr).toMatchObject({ type: 'member', object: { type: 'index', index: 3 } });
    expect(parseArg('x[0x10]').expr).toMatchObject({ type: 'index', index: 16 });
    expect(parseArg('$retval').expr).toEqual({ type: 'name', name: '$retval', pos: 0 });
    expect(parseArg('p:string').suffix).toEqual({ type: 'string', pos: 2 });
    expect(parseArg('p:string[64]').suffix).toEqual({ type: 'string', max: 64, pos: 2 });
    expect(parseArg('p:ustring').suffix).toEqual({ type: 'ustring', pos: 2 });
    expect(parseArg('p:bytes[16]').suffix).toEqual({ type: 'bytes', size: 16, pos: 2 });
    expect(parseArg('p:enum').suffix).toEqual({ type: 'enum', pos: 2 });
    expect(parseArg('p:enum fuse_opcode').suffix).toEqual({ type: 'enum', name: 'fuse_opcode', pos: 2 });
    expect(parseArg('p:flags open').suffix).toEqual({ type: 'flags', name: 'open', pos: 2 });
    for (const s of ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x32', 'x64']) expect(parseArg(`p:${s}`).suffix!.type).toBe(s);
  });

  test('syntax errors point at the problem', () => {
    expectError(() => parseArg(''), /empty expression/, 0);
    expectError(() => parseArg('n='), /expected an expression after 'n='/, 2);
    expectError(() => parseArg('file->'), /expected a member name after '->', found the end/, 6);
    expectError(() => parseArg('file.'), /expected a member name after '\.'/, 5);
    expectError(() => parseArg('file->3'), /expected a member name after '->', found '3'/, '3');
    expectError(() => parseArg('a b'), /unexpected 'b'/, 'b');
    expectError(() => parseArg('x[y]'), /expected a constant index, found 'y'/, 'y');
    expectError(() => parseArg('x[1'), /expected '\]'/, 3);
    expectError(() => parseArg('(struct sock *arg0'), /expected '\)' after the type name/, 'arg0');
    expectError(() => parseArg('(struct *)x'), /expected a struct name/, '*');
    expectError(() => parseArg('x:foo'), /unknown type 'foo'; use one of u8, .*bytes\[N\]/, 'foo');
    expectError(() => parseArg('x:bytes'), /bytes needs a size: bytes\[N\]/, 7);
    expectError(() => parseArg('x:u32 y'), /unexpected 'y' after the type/, 'y');
    expectError(() => parseArg('x # y'), /unexpected character '#'/, '#');
    expectError(() => parseArg('1abc'), /bad number '1abc'/, 0);
    expectError(() => parseArg('->x'), /expected a parameter name, found '->'/, 0);
    expectError(() => parseArg('"s"'), /expected a parameter name, found a string/, 0);
    expectError(() => parseArg('x:string[n]'), /expected a size, found 'n'/, 9);
  });
});

describe('compiling against kernel BTF', () => {
  const fsync: ProbeContext = kprobeContext(btf.findFunction('vfs_fsync_range')!);

  test('the probe context of vfs_fsync_range', () => {
    expect(fsync.prototype).toBe('int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)');
    expect(fsync.params.map((p) => [p.name, p.at])).toEqual([
      ['file', { source: Source.Reg, reg: 0 }],
      ['start', { source: Source.Reg, reg: 1 }],
      ['end', { source: Source.Reg, reg: 2 }],
      ['datasync', { source: Source.Reg, reg: 3 }],
    ]);
  });

  test('parameters in registers are stored as values', () => {
    expect(compileArg('file', fsync)).toEqual({
      label: 'file', expression: 'file',
      fetch: { source: Source.Reg, reg: 0, steps: [], store: Store.Value, size: 8 },
      decode: { kind: 'pointer', size: 8, signed: false, type: 'struct file *' },
    });
    expect(compileArg('start', fsync).fetch).toEqual({ source: Source.Reg, reg: 1, steps: [], store: Store.Value, size: 8, signed: true });
    expect(compileArg('start', fsync).decode).toMatchObject({ kind: 'int', type: 'loff_t', signed: true, size: 8 });
    expect(compileArg('datasync', fsync).fetch).toEqual({ source: Source.Reg, reg: 3, steps: [], store: Store.Value, size: 4, signed: true });
    // argN names the parameter in register N, with its type.
    expect(compileArg('arg1', fsync).fetch).toEqual(compileArg('start', fsync).fetch);
    expect(compileArg('arg0', fsync).decode.type).toBe('struct file *');
  });

  test('file->f_path.dentry->d_name.name: two steps, then the string', () => {
    const a = compileArg('file->f_path.dentry->d_name.name', fsync);
    expect(a.fetch).toEqual({
      source: Source.Reg, reg: 0,
      steps: [
        { offset: offsetOf('file', 'f_path', 'dentry'), user: false },
        { offset: offsetOf('dentry', 'd_name', 'name'), user: false },
      ],
      store: Store.Str, size: 256, offset: 0,
    });
    expect(a.decode).toEqual({ kind: 'string', size: 256, signed: false, type: 'const unsigned char *' });
    expect(a.label).toBe('file->f_path.dentry->d_name.name');
  });

  test('trailing member reads fold into the store offset', () => {
    expect(compileArg('file->f_flags', fsync).fetch).toEqual({
      source: Source.Reg, reg: 0, steps: [], store: Store.Mem, size: 4, offset: offsetOf('file', 'f_flags'),
    });
    expect(compileArg('file->f_path.dentry->d_name.len', fsync).fetch).toEqual({
      source: Source.Reg, reg: 0, steps: [{ offset: offsetOf('file', 'f_path', 'dentry'), user: false }],
      store: Store.Mem, size: 4, offset: offsetOf('dentry', 'd_name', 'len'),
    });
    expect(compileArg('file->f_pos', fsync).fetch).toMatchObject({ store: Store.Mem, size: 8, signed: true, offset: offsetOf('file', 'f_pos') });
    expect(compileArg('file->f_inode->i_mode', fsync).decode).toMatchObject({ kind: 'uint', size: 2, type: 'umode_t' });
  });

  test('eight pointer hops', () => {
    const parents = '->d_parent'.repeat(7);
    const a = compileArg(`file->f_path.dentry${parents}->d_name.name`, fsync);
    const dParent = offsetOf('dentry', 'd_parent');
    expect(a.fetch.steps).toEqual([
      { offset: offsetOf('file', 'f_path', 'dentry'), user: false },
      ...Array(7).fill({ offset: dParent, user: false }),
      { offset: offsetOf('dentry', 'd_name', 'name'), user: false },
    ]);
    expect(a.fetch.store).toBe(Store.Str);
    // task_struct: 8 hops up the parents, then an embedded array.
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    const t = compileArg(`p${'->real_parent'.repeat(8)}->comm`, wake);
    expect(t.fetch.steps).toEqual(Array(8).fill({ offset: offsetOf('task_struct', 'real_parent'), user: false }));
    expect(t.fetch).toMatchObject({ store: Store.Str, size: 16, offset: offsetOf('task_struct', 'comm') });
  });

  test('at most 12 dereferences', () => {
    const ok = compileArg(`file->f_path.dentry${'->d_parent'.repeat(10)}->d_name.name`, fsync);
    expect(ok.fetch.steps).toHaveLength(MAX_STEPS);
    const expr = `file->f_path.dentry${'->d_parent'.repeat(11)}->d_name.name`;
    expectError(() => compileArg(expr, fsync), /too deep: an argument may follow at most 12 pointers/, expr.lastIndexOf('name'));
    const deeper = `file->f_path.dentry${'->d_parent'.repeat(12)}->d_name.name`;
    expectError(() => compileArg(deeper, fsync), /too deep/, deeper.lastIndexOf('->d_name'));
  });

  test('bitfields read the smallest word that covers them', () => {
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    for (const name of ['sched_reset_on_fork', 'sched_contributes_to_load', 'sched_remote_wakeup']) {
      const { bits, bitfieldSize } = dump.memberPath('task_struct', [name]);
      const a = compileArg(`p->${name}`, wake);
      expect(a.fetch).toEqual({
        source: Source.Reg, reg: 0, steps: [], store: Store.Mem,
        size: 1, offset: Math.floor(bits / 8), bitOffset: bits % 8, bitSize: bitfieldSize,
      });
      expect(a.decode).toMatchObject({ kind: 'uint', bitSize: bitfieldSize });
    }
    // ring_buffer_event: type_len:5 then time_delta:27 in one u32.
    const raw = rawContext('kprobe', 'x', { btf });
    const td = compileArg('((struct ring_buffer_event *)arg0)->time_delta', raw);
    expect(td.fetch).toMatchObject({ store: Store.Mem, size: 4, offset: 0, bitOffset: 5, bitSize: 27 });
    expect(compileArg('((struct ring_buffer_event *)arg0)->type_len', raw).fetch).toMatchObject({ size: 1, bitOffset: 0, bitSize: 5 });
    expectError(() => compileArg('((struct ring_buffer_event *)arg0)->type_len->x', raw), /'->' needs a pointer to a struct/, '->x');
  });

  test('enums by name', () => {
    const ctx = kprobeContext(btf.findFunction('cpuhp_invoke_callback')!);
    const a = compileArg('state', ctx);
    expect(a.fetch).toEqual({ source: Source.Reg, reg: 1, steps: [], store: Store.Value, size: 4, signed: true });
    expect(a.decode).toMatchObject({ kind: 'enum', enumName: 'cpuhp_state', type: 'enum cpuhp_state', signed: true });
    const raw = dump.types.get(dump.idsNamed('ENUM', 'cpuhp_state')[0])!;
    expect([...a.decode.names!.entries()]).toEqual(raw.items.map((i) => [BigInt(i.attrs.val), i.name]));
    expect(a.decode.names!.get(-1n)).toBe('CPUHP_INVALID');
    // An integer decoded with a named enum.
    const tcp = kprobeContext(btf.findFunction('tcp_set_state')!);
    const s = compileArg('state:enum tcp_ca_state', tcp);
    expect(s.decode).toMatchObject({ kind: 'enum', enumName: 'tcp_ca_state', type: 'enum tcp_ca_state' });
    expect(s.fetch).toMatchObject({ store: Store.Value, size: 4 });
    // Aliases share a value; the first name is kept.
    const pages = compileArg('state:enum pageflags', tcp).decode.names!;
    const pageflags = dump.types.get(dump.idsNamed('ENUM', 'pageflags')[0])!;
    for (const item of pageflags.items) {
      const v = BigInt(item.attrs.val);
      expect(pages.get(v)).toBe(pageflags.items.find((i) => BigInt(i.attrs.val) === v)!.name);
    }
    expect(pages.size).toBeLessThan(pageflags.items.length);
    expect(pages.get(10n)).toBe('PG_owner_priv_1');
    expectError(() => compileArg('state:enum', tcp), /':enum' needs an enum type or an enum's name/, 'enum');
    expectError(() => compileArg('state:enum no_such_enum_kn', tcp), /unknown enum 'no_such_enum_kn'/, 'enum');
  });

  test('bool and char', () => {
    const ctx = kprobeContext(btf.findFunction('cpuhp_invoke_callback')!);
    expect(compileArg('bringup', ctx)).toMatchObject({ fetch: { store: Store.Value, size: 1, reg: 2 }, decode: { kind: 'bool', type: 'bool' } });
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    expect(compileArg('p->comm[0]', wake)).toMatchObject({
      fetch: { store: Store.Mem, size: 1, offset: offsetOf('task_struct', 'comm') },
      decode: { kind: 'char' },
    });
    expect(compileArg('p->comm[15]', wake).fetch.offset).toBe(offsetOf('task_struct', 'comm') + 15);
  });

  test('strings: char pointers, char arrays, lengths, user memory', () => {
    const open = kprobeContext(btf.findFunction('do_sys_openat2')!);
    expect(compileArg('filename', open).fetch).toEqual({ source: Source.Reg, reg: 1, steps: [], store: Store.Str, size: 256, offset: 0 });
    expect(compileArg('filename:string[64]', open).fetch).toMatchObject({ store: Store.Str, size: 64 });
    expect(compileArg('filename', open, { maxString: 4096 }).fetch.size).toBe(4096);
    expect(compileArg('filename:ustring', open)).toMatchObject({ fetch: { store: Store.StrUser, size: 256 }, decode: { kind: 'string', user: true } });
    expect(compileArg('filename:bytes[16]', open).fetch).toMatchObject({ store: Store.Bytes, size: 16, offset: 0 });
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    expect(compileArg('p->comm', wake)).toMatchObject({
      fetch: { store: Store.Str, size: 16, offset: offsetOf('task_struct', 'comm'), steps: [] },
      decode: { kind: 'string', type: 'char[16]' },
    });
    // :string[N] on an array reads at most the array.
    expect(compileArg('p->comm:string[8]', wake).fetch.size).toBe(8);
    expect(compileArg('p->comm:string[64]', wake).fetch.size).toBe(16);
    // A struct in memory read as raw bytes.
    const fsyncCtx = kprobeContext(btf.findFunction('vfs_fsync_range')!);
    expect(compileArg('file->f_path:bytes[16]', fsyncCtx).fetch).toMatchObject({ store: Store.Bytes, size: 16, offset: offsetOf('file', 'f_path'), steps: [] });
    expect(compileArg('file->f_path.dentry->d_name.name:string', fsyncCtx).fetch.store).toBe(Store.Str);
    expectError(() => compileArg('filename:string[5000]', open), /a string length must be 1\.\.4096 bytes, not 5000/, 'string');
    expectError(() => compileArg('filename:bytes[0]', open), /bytes\[N\] must be 1\.\.4096 bytes/, 'bytes');
    expect(() => compileArg('filename', open, { maxString: 0 })).toThrow(ExpressionError);
  });

  test('scalar suffixes reinterpret the location', () => {
    expect(compileArg('file:x64', fsync)).toMatchObject({ fetch: { store: Store.Value, size: 8 }, decode: { kind: 'hex', type: 'x64' } });
    expect(compileArg('datasync:u8', fsync)).toMatchObject({ fetch: { store: Store.Value, size: 1 }, decode: { kind: 'uint', size: 1 } });
    expect(compileArg('file->f_flags:s16', fsync)).toMatchObject({
      fetch: { store: Store.Mem, size: 2, signed: true, offset: offsetOf('file', 'f_flags') },
      decode: { kind: 'int', size: 2, signed: true },
    });
    expect(compileArg('file->f_flags:x32', fsync).decode.kind).toBe('hex');
    expect(compileArg('file->f_path:u64', fsync).fetch).toMatchObject({ store: Store.Mem, size: 8, offset: offsetOf('file', 'f_path') });
  });

  test('casts re-type a value', () => {
    const raw = rawContext('kprobe', 'some_function', { btf });
    expect(compileArg('arg0', raw)).toMatchObject({ fetch: { store: Store.Value, size: 8, reg: 0 }, decode: { kind: 'hex', type: 'u64' } });
    const a = compileArg('((struct file *)arg0)->f_path.dentry->d_name.name', raw);
    expect(a.fetch).toEqual(compileArg('file->f_path.dentry->d_name.name', fsync).fetch);
    expect(compileArg('(struct dentry *)arg2', raw).decode.type).toBe('struct dentry *');
    expect(compileArg('(u32)arg3', raw)).toMatchObject({ fetch: { store: Store.Value, size: 4 }, decode: { kind: 'uint', type: 'u32' } });
    expect(compileArg('(int)arg3', raw)).toMatchObject({ fetch: { size: 4, signed: true }, decode: { kind: 'int' } });
    expect(compileArg('(unsigned long)arg3', raw).decode.type).toBe('long unsigned int');
    expect(compileArg('(char *)arg1', raw).fetch).toMatchObject({ store: Store.Str, reg: 1 });
    expect(compileArg('arg1:string', raw).fetch).toMatchObject({ store: Store.Str, reg: 1 });
    // u8 pointers are bytes unless asked: `:string` reads them as text.
    expect(compileArg('(u8 *)arg1', raw).decode.kind).toBe('pointer');
    expect(compileArg('(u8 *)arg1:string', raw).fetch).toMatchObject({ store: Store.Str, reg: 1, size: 256 });
    expect(compileArg('(void *)arg1:string[32]', raw).fetch).toMatchObject({ store: Store.Str, size: 32 });
    expect(compileArg('(struct dentry **)arg1', raw).decode.type).toBe('struct dentry **');
    expect(compileArg('((struct dentry **)arg1)[2]', raw).fetch).toMatchObject({ steps: [], store: Store.Mem, size: 8, offset: 16 });
    // Casting a pointer member: the cast applies to what it reads (C precedence).
    const c = compileArg('(struct inode *)file->private_data', fsync);
    expect(c.decode.type).toBe('struct inode *');
    expect(c.fetch).toMatchObject({ store: Store.Mem, size: 8, offset: offsetOf('file', 'private_data') });
    expect(compileArg('((struct inode *)file->private_data)->i_ino', fsync).fetch).toMatchObject({
      steps: [{ offset: offsetOf('file', 'private_data'), user: false }], store: Store.Mem, offset: offsetOf('inode', 'i_ino'),
    });
  });

  test('return probes: retval has the return type', () => {
    const ret = kretprobeContext(btf.findFunction('vfs_fsync_range')!);
    expect(compileArg('retval', ret)).toMatchObject({
      label: 'retval', fetch: { source: Source.Ret, steps: [], store: Store.Value, size: 4, signed: true }, decode: { kind: 'int', type: 'int' },
    });
    expect(compileArg('$retval', ret).fetch).toEqual(compileArg('retval', ret).fetch);
    const filp = kretprobeContext(btf.findFunction('filp_open')!);
    expect(compileArg('retval->f_path.dentry->d_name.name', filp).fetch).toMatchObject({
      source: Source.Ret, steps: [{ offset: offsetOf('file', 'f_path', 'dentry') }, { offset: offsetOf('dentry', 'd_name', 'name') }], store: Store.Str,
    });
    expect(defaultArgs(filp).map((a) => [a.label, a.decode.kind, a.decode.type])).toEqual([['retval', 'pointer', 'struct file *']]);
    expectError(() => compileArg('file', ret), /a return probe of vfs_fsync_range has only 'retval'/, 0);
  });

  test('parameters on the stack and structs by value are refused', () => {
    const ctx = kprobeContext(btf.findFunction('fsnotify')!);
    expect(ctx.prototype).toBe(
      'int fsnotify(__u32 mask, const void *data, int data_type, struct inode *dir, const struct qstr *file_name, struct inode *inode, u32 cookie)',
    );
    expect(compileArg('inode', ctx).fetch.reg).toBe(5);
    expectError(() => compileArg('cookie', ctx), /cannot read 'cookie': it is passed on the stack/, 0);
    expect(defaultArgs(ctx).map((a) => a.label)).toEqual(['mask', 'data', 'data_type', 'dir', 'file_name', 'inode']);
  });

  test('default arguments by type', () => {
    const open = kprobeContext(btf.findFunction('filp_open')!);
    const d = defaultArgs(open);
    expect(d.map((a) => [a.label, a.decode.kind, a.fetch.store])).toEqual([
      ['filename', 'string', Store.Str],
      ['flags', 'flags', Store.Value],
      ['mode', 'uint', Store.Value],
    ]);
    expect(d[1].decode.flags!.map((f) => f.name)).toEqual(expect.arrayContaining(['O_RDONLY', 'O_WRONLY', 'O_CREAT', 'O_CLOEXEC']));
    const f = defaultArgs(fsync);
    expect(f.map((a) => [a.label, a.decode.kind])).toEqual([['file', 'pointer'], ['start', 'int'], ['end', 'int'], ['datasync', 'int']]);
    expect(defaultArgs(kprobeContext(btf.findFunction('cpuhp_invoke_callback')!)).map((a) => a.decode.kind)).toEqual(['uint', 'enum', 'bool', 'pointer', 'pointer']);
    // Every default encodes into a probe config.
    expect(() => encodeConfig({ args: d.map((a) => a.fetch) })).not.toThrow();
  });

  test('raw arguments for functions without BTF', () => {
    const uprobe = rawContext('uprobe', 'main', { count: 2 });
    expect(compileArg('arg1:string', uprobe).fetch.store).toBe(Store.StrUser);
    expectError(() => compileArg('arg2', uprobe), /unknown parameter 'arg2' \(did you mean arg0\?\); main has: arg0, arg1/, 0);
  });

  test('labels and expression lists', () => {
    const args = compileArgs(['name=file->f_path.dentry->d_name.name', 'file->f_flags', 'datasync'], fsync);
    expect(args.map((a: CompiledArg) => a.label)).toEqual(['name', 'file->f_flags', 'datasync']);
    const nine = Array(9).fill('datasync');
    expectError(() => compileArgs(nine, fsync), /too many expressions: a probe fetches at most 8 arguments \(9 given\)/, 0);
    expectError(() => compileArgs(['datasync', 'datasync'], fsync), /two arguments are called 'datasync'/, 0);
  });
});

describe('compile errors', () => {
  const fsync = kprobeContext(btf.findFunction('vfs_fsync_range')!);

  test('unknown parameter lists the parameters', () => {
    const e = expectError(() => compileArg('n = fil->f_flags', fsync), /unknown parameter 'fil' \(did you mean file\?\); vfs_fsync_range has: file, start, end, datasync/, 'fil');
    expect(e.members).toEqual(['file', 'start', 'end', 'datasync']);
    expectError(() => compileArg('arg5', fsync), /unknown parameter 'arg5'/, 0);
    expectError(() => compileArg('retval', fsync), /'retval' is only available in return probes/, 0);
  });

  test('unknown member lists the members and the closest', () => {
    const e = expectError(() => compileArg('file->f_pathh.dentry', fsync), /struct file has no member 'f_pathh' \(did you mean f_path\?\); its members: f_lock, f_mode/, 'f_pathh');
    expect(e.members).toEqual(btf.memberNames(btf.findStruct('file')!));
    expect(e.members).toContain('f_path');
    expectError(() => compileArg('file->f_path.dentry->d_iname', fsync), /struct dentry has no member 'd_iname'/, 'd_iname');
  });

  test('-> and . say which to use', () => {
    expectError(() => compileArg('file.f_path', fsync), /'file' is struct file \*, a pointer: use '->' instead of '\.'/, '.');
    expectError(() => compileArg('file->f_path->dentry', fsync), /'file->f_path' is const struct path, not a pointer: use '\.' instead of '->'/, '->dentry');
    expectError(() => compileArg('start->x', fsync), /'->' needs a pointer to a struct; 'start' is loff_t/, '->');
    expectError(() => compileArg('start.x', fsync), /'\.' needs a struct or union; 'start' is loff_t/, '.');
    expectError(() => compileArg('arg0->f_flags', rawContext('kprobe', 'f', { btf })), /'arg0' has no type \(no BTF\): cast it first, e\.g\. \(\(struct file \*\)arg0\)->f_flags/, '->');
    expectError(() => compileArg('file->f_op->open->x', fsync), /points to int \(struct inode \*, struct file \*\), not to a struct/, '->x');
  });

  test(':string on something that is not a string', () => {
    expectError(() => compileArg('file:string', fsync), /':string' needs a char pointer or array; 'file' is struct file \*/, 'string');
    expectError(() => compileArg('datasync:ustring', fsync), /':ustring' needs a char pointer or array; 'datasync' is int/, 'ustring');
    expectError(() => compileArg('datasync:bytes[4]', fsync), /':bytes' needs a pointer or something in memory/, 'bytes');
  });

  test('indexes', () => {
    const wake = kprobeContext(btf.findFunction('wake_up_process')!);
    expectError(() => compileArg('p->pid[0]', wake), /only arrays and pointers can be indexed; 'p->pid' is pid_t/, '[');
    expectError(() => compileArg('p->comm[16]', wake), /index 16 is out of bounds: 'p->comm' is char\[16\] \(16 elements\)/, '16');
    expectError(() => compileArg('((void *)p)[1]', wake), /cannot index '\(void \*\)p': it points to void/, '[');
  });

  test('casts', () => {
    expectError(() => compileArg('(struct no_such_struct_kn *)file', fsync), /unknown struct 'no_such_struct_kn'/, 'struct');
    expectError(() => compileArg('(struct sockk *)file', fsync), /unknown struct 'sockk' \(did you mean sock/, 'struct');
    expectError(() => compileArg('(no_such_type_kn)file', fsync), /unknown type 'no_such_type_kn'/, 'no_such');
    expectError(() => compileArg('(struct file)datasync', fsync), /cannot cast to struct file: cast to a pointer or an integer/, 'struct');
    expectError(() => compileArg('(struct file *)file->f_path', fsync), /cannot cast 'file->f_path'.*only integers and pointers can be cast/, 0);
    expectError(() => compileArg('(struct file *)file->f_flags', fsync), /cannot cast to \(struct file \*\): 'file->f_flags' is unsigned int, 4 bytes/, 0);
  });

  test('a struct is not a value', () => {
    const e = expectError(() => compileArg('file->f_path', fsync), /'file->f_path' is const struct path; read one of its members \(mnt, dentry\) or ':bytes\[N\]'/, 'file->f_path'.length);
    expect(e.members).toEqual(['mnt', 'dentry']);
  });
});

describe('tracepoints', () => {
  // syscalls/sys_enter_openat/format on x86-64: every argument sits in an 8-byte slot.
  const openat: TracepointField[] = [
    { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false, common: true },
    { name: 'common_flags', type: 'unsigned char', offset: 2, size: 1, signed: false, common: true },
    { name: 'common_preempt_count', type: 'unsigned char', offset: 3, size: 1, signed: false, common: true },
    { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true, common: true },
    { name: '__syscall_nr', type: 'int', offset: 8, size: 4, signed: true, common: false },
    { name: 'dfd', type: 'int', offset: 16, size: 8, signed: false, common: false },
    { name: 'filename', type: 'const char *', offset: 24, size: 8, signed: false, common: false },
    { name: 'flags', type: 'int', offset: 32, size: 8, signed: false, common: false },
    { name: 'mode', type: 'umode_t', offset: 40, size: 8, signed: false, common: false },
  ];

  test('syscall arguments: user strings, slots read at the type width', () => {
    const ctx = tracepointContext('syscalls:sys_enter_openat', openat, { btf, syscall: true });
    expect(ctx.prototype).toBe('syscalls:sys_enter_openat(int dfd, const char *filename, int flags, umode_t mode)');
    const d = defaultArgs(ctx);
    expect(d.map((a) => [a.label, a.fetch, a.decode.kind, a.decode.type])).toEqual([
      ['dfd', { source: Source.Ctx, steps: [], store: Store.Mem, size: 4, signed: true, offset: 16 }, 'int', 'int'],
      ['filename', { source: Source.Ctx, steps: [{ offset: 24, user: false }], store: Store.StrUser, size: 256, offset: 0 }, 'string', 'const char *'],
      ['flags', { source: Source.Ctx, steps: [], store: Store.Mem, size: 4, offset: 32 }, 'flags', 'int'],
      ['mode', { source: Source.Ctx, steps: [], store: Store.Mem, size: 2, offset: 40 }, 'uint', 'umode_t'],
    ]);
    expect(compileArg('arg1', ctx).fetch).toEqual(d[1].fetch);
    expect(compileArg('__syscall_nr', ctx).fetch).toMatchObject({ store: Store.Mem, size: 4, offset: 8 });
    expect(compileArg('filename:bytes[8]', ctx).fetch).toMatchObject({ steps: [{ offset: 24, user: false }], store: Store.BytesUser, size: 8 });
  });

  test('sys_exit: retval is the ret field', () => {
    const exit: TracepointField[] = [
      { name: '__syscall_nr', type: 'int', offset: 8, size: 4, signed: true },
      { name: 'ret', type: 'long', offset: 16, size: 8, signed: true },
    ];
    const ctx = tracepointContext('syscalls:sys_exit_openat', exit, { btf, syscall: true });
    expect(compileArg('retval', ctx).fetch).toEqual({ source: Source.Ctx, steps: [], store: Store.Mem, size: 8, signed: true, offset: 16 });
    expect(defaultArgs(ctx).map((a) => a.label)).toEqual(['ret']);
    const enter = tracepointContext('syscalls:sys_enter_openat', openat, { btf, syscall: true });
    expectError(() => compileArg('retval', enter), /'retval' is only available in return probes/, 0);
  });

  test('user pointers stay in user memory across hops', () => {
    const stat: TracepointField[] = [
      { name: 'fd', type: 'unsigned int', offset: 16, size: 8, signed: false },
      { name: 'statbuf', type: 'struct stat *', offset: 24, size: 8, signed: false },
    ];
    const ctx = tracepointContext('syscalls:sys_enter_newfstat', stat, { btf, syscall: true });
    expect(compileArg('statbuf->st_size', ctx).fetch).toEqual({
      source: Source.Ctx, steps: [{ offset: 24, user: false }], store: Store.MemUser, size: 8, signed: true, offset: offsetOf('stat', 'st_size'),
    });
  });

  test('kernel tracepoint fields: arrays, __data_loc strings, struct pointers', () => {
    const fields: TracepointField[] = [
      { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true, common: true },
      { name: 'comm', type: 'char[16]', offset: 8, size: 16, signed: false },
      { name: 'pid', type: 'pid_t', offset: 24, size: 4, signed: true },
      { name: 'name', type: '__data_loc char[]', offset: 28, size: 4, signed: false },
      { name: 'task', type: 'struct task_struct *', offset: 32, size: 8, signed: false },
      { name: 'addr', type: 'u8[4]', offset: 40, size: 4, signed: false },
      { name: 'unknown', type: 'some_unknown_t', offset: 44, size: 2, signed: true },
    ];
    const ctx = tracepointContext('test:kn_event', fields, { btf });
    expect(ctx.prototype).toBe('test:kn_event(char comm[16], pid_t pid, __data_loc char name[], struct task_struct *task, u8 addr[4], some_unknown_t unknown)');
    expect(defaultArgs(ctx).map((a) => [a.label, a.fetch, a.decode.kind])).toEqual([
      ['comm', { source: Source.Ctx, steps: [], store: Store.Str, size: 16, offset: 8 }, 'string'],
      ['pid', { source: Source.Ctx, steps: [], store: Store.Mem, size: 4, signed: true, offset: 24 }, 'int'],
      ['name', { source: Source.Ctx, steps: [], store: Store.DataLoc, size: 256, offset: 28 }, 'string'],
      ['task', { source: Source.Ctx, steps: [], store: Store.Mem, size: 8, offset: 32 }, 'pointer'],
      ['addr', { source: Source.Ctx, steps: [], store: Store.Bytes, size: 4, offset: 40 }, 'bytes'],
      ['unknown', { source: Source.Ctx, steps: [], store: Store.Mem, size: 2, signed: true, offset: 44 }, 'int'],
    ]);
    expect(compileArg('task->real_parent->comm', ctx).fetch).toEqual({
      source: Source.Ctx, steps: [{ offset: 32, user: false }, { offset: offsetOf('task_struct', 'real_parent'), user: false }],
      store: Store.Str, size: 16, offset: offsetOf('task_struct', 'comm'),
    });
    expect(compileArg('addr[2]', ctx).fetch).toMatchObject({ store: Store.Mem, size: 1, offset: 42 });
    expect(compileArg('common_pid', ctx).fetch).toMatchObject({ store: Store.Mem, size: 4, offset: 4 });
    expectError(() => compileArg('name->x', ctx), /'name' is a string \(__data_loc\); it has no members/, '->');
    expectError(() => compileArg('name:u32', ctx), /not a number/, 'u32');
  });

  test('no BTF for a tracepoint: sizes from the format file', () => {
    const ctx = tracepointContext('test:kn_event', [{ name: 'x', type: 'unsigned long', offset: 8, size: 8, signed: false }], { btf: null });
    expect(ctx.btf).toBeUndefined();
    expect(compileArg('x', ctx).fetch).toMatchObject({ store: Store.Mem, size: 8, offset: 8 });
  });
});
