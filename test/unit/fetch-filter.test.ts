/** Filter expressions compiled against kernel functions' BTF (the fixture, test/fixtures/kernel.c). */
import { FilterOp, Source, Store, encodeConfig } from '../../lib/sys/abi';
import { TracepointField, compileArgs, kprobeContext, parseConditions, parseFilter, rawContext, tracepointContext } from '../../lib/fetch';
import { expectError } from '../helpers/expression';
import { fixtureBtf, fixtureDump } from '../helpers/kernel-fixture';

describe('filters', () => {
  const btf = fixtureBtf();
  const offsetOf = (struct: string, ...path: string[]) => fixtureDump().offsetOf(struct, ...path);
  const open = kprobeContext(btf.findFunction('do_sys_openat2')!);
  const fsync = kprobeContext(btf.findFunction('vfs_fsync_range')!);

  test('parses conditions joined by &&', () => {
    const c = parseConditions('flags & 0x40 && count > 4096 && comm == "bash" && x >= -1');
    expect(c.map((x) => [x.leftText, x.op, x.right])).toEqual([
      ['flags', '&', { type: 'number', value: 0x40n, pos: 8, text: '0x40' }],
      ['count', '>', { type: 'number', value: 4096n, pos: 24, text: '4096' }],
      ['comm', '==', { type: 'string', value: 'bash', pos: 40 }],
      ['x', '>=', { type: 'number', value: -1n, pos: 55, text: '-1' }],
    ]);
    expect(parseConditions('a == 0100')[0].right).toMatchObject({ value: 64n }); // C octal
    expect(parseConditions('a == O_CREAT')[0].right).toEqual({ type: 'name', name: 'O_CREAT', pos: 5 });
  });

  test('a full filter: hidden arguments, operands, task filters', () => {
    const f = parseFilter('dfd == -100 && how->flags & O_CREAT && comm == "bash"', open);
    expect(f.comm).toBe('bash');
    expect(f.args.map((a) => [a.label, a.fetch])).toEqual([
      ['dfd', { source: Source.Reg, reg: 0, steps: [], store: Store.Value, size: 4, signed: true, hidden: true }],
      ['how->flags', { source: Source.Reg, reg: 2, steps: [], store: Store.Mem, size: 8, offset: offsetOf('open_how', 'flags'), hidden: true }],
    ]);
    expect(f.filters).toEqual([
      { arg: 0, op: FilterOp.Eq, operand: BigInt.asUintN(64, -100n) },
      { arg: 1, op: FilterOp.And, operand: 0o100n },
    ]);
    expect(() => encodeConfig({ args: f.args.map((a) => a.fetch), filters: f.filters, comm: f.comm })).not.toThrow();
  });

  test('signed and unsigned comparisons', () => {
    const ops = (text: string) => parseFilter(text, fsync).filters.map((x) => x.op);
    expect(ops('datasync < 1 && datasync <= 1 && datasync > 1 && datasync >= 1')).toEqual([FilterOp.SLt, FilterOp.SLe, FilterOp.SGt, FilterOp.SGe]);
    expect(ops('file->f_flags < 1 && file->f_flags <= 1 && file->f_flags > 1 && file->f_flags >= 1')).toEqual([FilterOp.Lt, FilterOp.Le, FilterOp.Gt, FilterOp.Ge]);
    expect(ops('datasync == 1 && datasync != 1 && datasync & 1')).toEqual([FilterOp.Eq, FilterOp.Ne, FilterOp.And]);
    // The same value compared twice is fetched once.
    expect(parseFilter('datasync > 0 && datasync < 9', fsync).args).toHaveLength(1);
    expect(parseFilter('start >= 0x1000', fsync).filters).toEqual([{ arg: 0, op: FilterOp.SGe, operand: 0x1000n }]);
  });

  test('conditions on shown arguments reuse them', () => {
    const args = compileArgs(['filename', 'dfd'], open);
    const f = parseFilter('dfd == 3 && how->resolve == 0 && filename == "/etc/passwd"', open, { args });
    expect(f.args.map((a) => a.label)).toEqual(['how->resolve']);
    expect(f.filters).toEqual([
      { arg: 1, op: FilterOp.Eq, operand: 3n },
      { arg: 2, op: FilterOp.Eq, operand: 0n },
      { arg: 0, op: FilterOp.StrEq, str: '/etc/passwd' },
    ]);
  });

  test('enum names, flag names, true/false/NULL', () => {
    const cpuhp = kprobeContext(btf.findFunction('cpuhp_invoke_callback')!);
    const e = parseFilter('state == CPUHP_INVALID && bringup == true && node != NULL', cpuhp);
    expect(e.filters).toEqual([
      { arg: 0, op: FilterOp.Eq, operand: BigInt.asUintN(64, -1n) },
      { arg: 1, op: FilterOp.Eq, operand: 1n },
      { arg: 2, op: FilterOp.Ne, operand: 0n },
    ]);
    // Any enum's constant, for an int parameter.
    const tcp = kprobeContext(btf.findFunction('tcp_set_state')!);
    expect(parseFilter('state == TCP_CLOSE', tcp).filters[0].operand).toBe(7n);
    const filp = kprobeContext(btf.findFunction('filp_open')!);
    expect(parseFilter('flags & O_TRUNC', filp).filters[0]).toEqual({ arg: 0, op: FilterOp.And, operand: 0o1000n });
  });

  test('task filters: comm, pid, tid, uid and their $ forms', () => {
    expect(parseFilter('pid == 12 && $uid == 0 && tid == 13', fsync)).toEqual({ args: [], filters: [], pid: 12, uid: 0, tid: 13 });
    // A record field called pid is the field; $pid is the task.
    const fields: TracepointField[] = [
      { name: 'pid', type: 'pid_t', offset: 8, size: 4, signed: true },
      { name: 'comm', type: 'char[16]', offset: 12, size: 16, signed: false },
    ];
    const tp = tracepointContext('sched:kn_test', fields, { btf });
    const f = parseFilter('pid == 5 && $pid == 6 && comm == "kworker" && $comm == "bash"', tp);
    expect(f.pid).toBe(6);
    expect(f.comm).toBe('bash');
    expect(f.filters).toEqual([
      { arg: 0, op: FilterOp.Eq, operand: 5n },
      { arg: 1, op: FilterOp.StrEq, str: 'kworker' },
    ]);
  });

  test('type suffixes on the compared value', () => {
    const raw = rawContext('kprobe', 'no_btf_function', { btf });
    const f = parseFilter('arg1:u32 == 5 && arg0:string == "x" && arg2:s8 < -1', raw);
    expect(f.args.map((a) => [a.fetch.store, a.fetch.size, a.fetch.signed ?? false])).toEqual([
      [Store.Value, 4, false],
      [Store.Str, 256, false],
      [Store.Value, 1, true],
    ]);
    expect(f.filters).toEqual([
      { arg: 0, op: FilterOp.Eq, operand: 5n },
      { arg: 1, op: FilterOp.StrEq, str: 'x' },
      { arg: 2, op: FilterOp.SLt, operand: BigInt.asUintN(64, -1n) },
    ]);
  });

  test('syscall tracepoint: user string equality', () => {
    const fields: TracepointField[] = [
      { name: 'dfd', type: 'int', offset: 16, size: 8, signed: false },
      { name: 'filename', type: 'const char *', offset: 24, size: 8, signed: false },
      { name: 'flags', type: 'int', offset: 32, size: 8, signed: false },
    ];
    const ctx = tracepointContext('syscalls:sys_enter_openat', fields, { btf, syscall: true });
    const f = parseFilter('filename == "/tmp/x" && flags & O_CREAT', ctx);
    expect(f.args[0].fetch).toMatchObject({ store: Store.StrUser, steps: [{ offset: 24, user: false }] });
    expect(f.filters).toEqual([
      { arg: 0, op: FilterOp.StrEq, str: '/tmp/x' },
      { arg: 1, op: FilterOp.And, operand: 0o100n },
    ]);
  });

  test('errors, with positions', () => {
    expectError(() => parseFilter('datasync == 1 || datasync == 2', fsync), /'\|\|' is not supported: all conditions must hold; join them with '&&'/, '||');
    expectError(() => parseFilter('', fsync), /empty filter/, 0);
    expectError(() => parseFilter('datasync = 1', fsync), /use '==' to compare/, '=');
    expectError(() => parseFilter('datasync', fsync), /expected a comparison \(== != < <= > >= &\) after 'datasync'/, 8);
    expectError(() => parseFilter('datasync == ', fsync), /expected a number, a string or a constant name, found the end/, 12);
    expectError(() => parseFilter('datasync == 1 datasync', fsync), /expected '&&' or the end, found 'datasync'/, 14);
    expectError(() => parseFilter('!datasync', fsync), /'!' is not supported/, 0);
    expectError(() => parseFilter('datsync == 1', fsync), /unknown parameter 'datsync' \(did you mean datasync\?\)/, 0);
    expectError(() => parseFilter('datasync == "x"', fsync), /'datasync' is int, not a string: compare it with a number/, '"x"');
    expectError(() => parseFilter('file->f_flags == -1', fsync), /'file->f_flags' is unsigned \(unsigned int\): -1 is negative/, '-1');
    expectError(() => parseFilter('file->f_flags == 0x100000000', fsync), /0x100000000 does not fit in 'file->f_flags' \(unsigned int, 32 bits\)/, '0x1');
    expectError(() => parseFilter('datasync > 0x80000000', fsync), /does not fit in 'datasync' \(int, 32 bits, signed\)/, '0x8');
    expectError(() => parseFilter('datasync == NO_SUCH_CONSTANT_KN', fsync), /unknown constant 'NO_SUCH_CONSTANT_KN'/, 'NO_');
    expectError(() => parseFilter('filename != "x"', open), /strings can only be compared with '=='/, '!=');
    expectError(() => parseFilter('filename == 3', open), /'filename' is a string: compare it with a quoted string/, '3');
    expectError(() => parseFilter('filename == "0123456789abcdef"', open), /string filters compare at most 15 characters; '0123456789abcdef' has 16/, '"');
    expectError(() => parseFilter('comm != "x"', fsync), /'comm' can only be compared with '=='/, '!=');
    expectError(() => parseFilter('comm == 3', fsync), /compare comm with a quoted name/, '3');
    expectError(() => parseFilter('comm == "a-very-long-name-x"', fsync), /a task name has at most 15 characters/, '"');
    expectError(() => parseFilter('pid == -1', fsync), /compare pid with a number/, '-1');
    expectError(() => parseFilter('pid == 1 && pid == 2', fsync), /'pid' is compared twice/, 12);
    expectError(() => parseFilter('file->f_path:bytes[4] == 1', fsync), /is a byte array; filters compare numbers and strings/, 0);
  });

  test('too many values or conditions', () => {
    const nine = Array.from({ length: 9 }, (_, i) => `datasync != ${i}`).join(' && ');
    expectError(() => parseFilter(nine, fsync), /too many conditions: at most 8 per probe/, nine.lastIndexOf('datasync'));
    const args = compileArgs(['file', 'start', 'end', 'datasync', 'file->f_flags', 'file->f_mode', 'file->f_pos', 'file->f_inode'], fsync);
    expect(parseFilter('datasync == 1', fsync, { args }).args).toEqual([]);
    expectError(() => parseFilter('file->f_iocb_flags == 1', fsync, { args }), /too many values: a probe fetches at most 8/, 0);
  });
});
