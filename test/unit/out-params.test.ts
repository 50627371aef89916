/**
 * Out-parameters are not strings: a `char *` that is not `const` (read's
 * `buf`, getcwd's) is a buffer the kernel fills, so at entry it holds stale
 * bytes or nothing; it is shown as a pointer. `const char *` (open's
 * `filename`, write's `buf`) stays a string, and `:string` reads either.
 * Against the fixture's BTF and syscall format fields as tracefs writes them.
 */
import { Store } from '../../lib/sys/abi';
import { ProbeContext, TracepointField, compileArg, defaultArgs, kprobeContext, tracepointContext } from '../../lib/fetch';
import { fixtureBtf } from '../helpers/kernel-fixture';

const btf = fixtureBtf();

/** A sys_enter_ format's argument fields (each a long slot from offset 16). */
function syscall(name: string, fields: Array<[string, string]>): ProbeContext {
  const f: TracepointField[] = fields.map(([type, n], i) => ({ name: n, type, offset: 16 + 8 * i, size: 8, signed: false }));
  return tracepointContext(`syscalls:sys_enter_${name}`, f, { btf, syscall: true });
}

const read = syscall('read', [['unsigned int', 'fd'], ['char *', 'buf'], ['size_t', 'count']]);
const write = syscall('write', [['unsigned int', 'fd'], ['const char *', 'buf'], ['size_t', 'count']]);
const getcwd = syscall('getcwd', [['char *', 'buf'], ['unsigned long', 'size']]);

test("syscalls: read's and getcwd's buf are pointers, write's buf a string (the format file's const)", () => {
  expect(defaultArgs(read).map((a) => [a.label, a.decode.kind])).toEqual([['fd', 'uint'], ['buf', 'pointer'], ['count', 'uint']]);
  expect(compileArg('buf', read).fetch).toMatchObject({ store: Store.Mem, size: 8, offset: 24 });
  expect(defaultArgs(getcwd)[0].decode.kind).toBe('pointer');
  expect(defaultArgs(write).map((a) => [a.label, a.decode.kind])).toEqual([['fd', 'uint'], ['buf', 'string'], ['count', 'uint']]);
});

test(':string still reads an out-parameter, from user memory', () => {
  const a = compileArg('buf:string', read);
  expect(a.decode.kind).toBe('string');
  expect(a.fetch).toMatchObject({ store: Store.StrUser, steps: [{ offset: 24, user: false }] });
});

test('kernel functions: by the BTF pointee\'s const', () => {
  const vfsRead = kprobeContext(btf.findFunction('vfs_read')!);
  const filpOpen = kprobeContext(btf.findFunction('filp_open')!);
  expect(defaultArgs(vfsRead).find((a) => a.label === 'buf')?.decode.kind).toBe('pointer');
  expect(defaultArgs(filpOpen).find((a) => a.label === 'filename')?.decode.kind).toBe('string');
  expect(compileArg('buf:string', vfsRead).decode.kind).toBe('string');
});

test('members and plain tracepoint fields keep reading strings', () => {
  // A char pointer reached through a member is data, not a parameter being filled.
  const open = kprobeContext(btf.findFunction('vfs_read')!);
  expect(compileArg('file->f_path.dentry->d_name.name', open).decode.kind).toBe('string');
  const tp = tracepointContext('test:kn_event', [{ name: 'name', type: 'char *', offset: 8, size: 8, signed: false }], { btf });
  expect(defaultArgs(tp)[0].decode.kind).toBe('string');
});
