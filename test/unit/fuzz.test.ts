/**
 * Hostile input to the expression compiler: random token soup, mutated valid
 * expressions, very long names, NUL bytes and unicode, against kernel BTF
 * (the fixture, test/fixtures/kernel.c). Every input either compiles into a config the kernel side can
 * take, or fails with a typed error (a KprobeNodeError) — never a TypeError,
 * a RangeError, a stack overflow or a hang. Seeded, so a failure reproduces.
 */
import { encodeConfig } from '../../lib/sys/abi';
import { KprobeNodeError } from '../../lib/errors';
import {
  ProbeContext,
  TracepointField,
  compileArg,
  kprobeContext,
  kretprobeContext,
  parseArg,
  parseFilter,
  rawContext,
  tracepointContext,
} from '../../lib/fetch';
import { parseTarget } from '../../lib/attach/target';
import { fixtureBtf } from '../helpers/kernel-fixture';
import { rng } from '../helpers/rng';

jest.setTimeout(120000);

const SEEDS = [
  'file->f_path.dentry->d_name.name',
  'name=file->f_path.dentry->d_name.name:string',
  'file->f_inode->i_ino',
  'file->f_flags:flags',
  '(struct sock *)arg0',
  '((struct file *)arg0)->f_pos',
  'file->f_path.dentry->d_iname[3]:u8',
  'start:x64',
  'buf:bytes[16]',
  'filename:ustring',
  'retval',
  'flags & 0x40 && comm == "bash"',
  'count > 4096 && pid != 1',
  'datasync == 1 && start >= -1',
  'how->flags & O_CREAT',
  'prev_comm',
  'name:string',
];

const TOKENS = [
  'file', 'f_path', 'dentry', 'd_name', 'name', 'f_inode', 'i_ino', 'f_flags', 'start', 'end', 'datasync',
  'dfd', 'filename', 'how', 'flags', 'mode', 'comm', 'pid', 'tid', 'uid', 'retval', 'arg0', 'arg5', 'arg99',
  '->', '.', '[', ']', '(', ')', '*', '&', '&&', '||', '==', '!=', '<', '<=', '>', '>=', '=', ':', ',', '"', "'",
  '0', '1', '-1', '0x40', '0xffffffffffffffffff', '9'.repeat(40), '0777', '1e9', '-', '+', '~', '!',
  'struct', 'union', 'enum', 'sock', 'task_struct', 'char', 'unsigned', 'long', 'const',
  ':u8', ':u64', ':s32', ':x64', ':string', ':ustring', ':bytes[4]', ':bytes[0]', ':bytes[99999]', ':enum', ':flags', ':float',
  'O_CREAT', 'O_NOPE', ' ', '\t', '\n', '\0', 'é', '文件', '😀', '\u202e', '\ud800', '$', '#', '\\', '`',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function soup(r: () => number): string {
  const n = 1 + Math.floor(r() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, TOKENS) + (r() < 0.2 ? ' ' : '');
  return s;
}

function mutate(r: () => number, src: string): string {
  let s = src;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0: // delete a span
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 4));
        break;
      case 1: // insert a token
        s = s.slice(0, at) + pick(r, TOKENS) + s.slice(at);
        break;
      case 2: // replace a character with anything, including a NUL or a surrogate half
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x10000)) + s.slice(at + 1);
        break;
      case 3: // repeat a span
        s = s.slice(0, at) + s.slice(at, at + 8).repeat(1 + Math.floor(r() * 30)) + s.slice(at);
        break;
      case 4: // splice in another seed
        s = s.slice(0, at) + pick(r, SEEDS) + s.slice(at);
        break;
      default: // swap halves
        s = s.slice(at) + s.slice(0, at);
    }
  }
  return s;
}

/** Inputs built to hurt: depth, length, and characters a C-minded parser might trip on. */
const EXTREME = [
  '',
  ' ',
  '\0',
  'file\0->f_path',
  'a'.repeat(100000),
  `file${'->f_path.dentry'.repeat(200)}`,
  `${'('.repeat(5000)}file${')'.repeat(5000)}`,
  `${'('.repeat(5000)}`,
  `file${'[0]'.repeat(2000)}`,
  `${'*'.repeat(3000)}file`,
  `${'-'.repeat(3000)}1`,
  `${'x=' .repeat(1000)}file`,
  `file:${'u'.repeat(5000)}`,
  `"${'a'.repeat(100000)}"`,
  `comm == "${'\\'.repeat(5001)}"`,
  `comm == "${'é'.repeat(1000)}"`,
  Array.from({ length: 2000 }, () => 'pid == 1').join(' && '),
  'file->😀',
  '文件->名字',
  '\ud800\udc00\ud800',
  'file->f_path.dentry->d_name.name:bytes[4294967297]',
  'file[18446744073709551616]',
  '(struct ' + 'x'.repeat(10000) + ' *)arg0',
  'arg-1',
  'arg1e3',
];

// Generous: an unknown struct name searches every BTF type name for suggestions (~300 ms).
// A hang detector (exponential blow-up), not a speed test: generous enough for a loaded machine.
const MAX_MS_PER_INPUT = 10000;

describe('fuzzing the expression compiler against kernel BTF', () => {
  const btf = fixtureBtf();
  const syscallFields: TracepointField[] = [
    { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false, common: true },
    { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true, common: true },
    { name: '__syscall_nr', type: 'int', offset: 8, size: 4, signed: true },
    { name: 'dfd', type: 'int', offset: 16, size: 8, signed: false },
    { name: 'filename', type: 'const char *', offset: 24, size: 8, signed: false },
    { name: 'flags', type: 'int', offset: 32, size: 8, signed: false },
    { name: 'mode', type: 'umode_t', offset: 40, size: 8, signed: false },
  ];
  const schedFields: TracepointField[] = [
    { name: 'prev_comm', type: 'char[16]', offset: 8, size: 16, signed: false },
    { name: 'prev_pid', type: 'pid_t', offset: 24, size: 4, signed: true },
    { name: 'name', type: '__data_loc char[]', offset: 28, size: 4, signed: false },
  ];
  const contexts: Array<[string, ProbeContext]> = [
    ['kprobe vfs_fsync_range', kprobeContext(btf.findFunction('vfs_fsync_range')!)],
    ['kprobe do_sys_openat2', kprobeContext(btf.findFunction('do_sys_openat2')!)],
    ['kretprobe vfs_read', kretprobeContext(btf.findFunction('vfs_read')!)],
    ['syscall tracepoint', tracepointContext('syscalls:sys_enter_openat', syscallFields, { btf, syscall: true })],
    ['tracepoint', tracepointContext('sched:x', schedFields, { btf })],
    ['raw uprobe', rawContext('uprobe', 'kn_add')],
  ];

  /** Runs one call; returns how it ended, failing on anything but success or a typed error. */
  function attempt(what: string, input: string, call: () => unknown): 'ok' | 'typed' {
    const start = process.hrtime.bigint();
    let outcome: 'ok' | 'typed' = 'ok';
    try {
      call();
    } catch (e) {
      if (!(e instanceof KprobeNodeError)) {
        throw new Error(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message} for input ${JSON.stringify(input.slice(0, 300))}`);
      }
      outcome = 'typed';
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms > MAX_MS_PER_INPUT) throw new Error(`${what} took ${ms.toFixed(0)} ms for input ${JSON.stringify(input.slice(0, 300))}`);
    return outcome;
  }

  function exercise(input: string, tally: Record<string, number>): void {
    const p = attempt('parseArg', input, () => parseArg(input));
    tally[`parse ${p}`] = (tally[`parse ${p}`] ?? 0) + 1;
    for (const [name, ctx] of contexts) {
      const c = attempt(`compileArg (${name})`, input, () => {
        const arg = compileArg(input, ctx, { maxString: 64 });
        // What compiles must also encode into a config the kernel takes.
        encodeConfig({ args: [arg.fetch], filters: [] });
      });
      tally[`compile ${c}`] = (tally[`compile ${c}`] ?? 0) + 1;
      const f = attempt(`parseFilter (${name})`, input, () => {
        const r = parseFilter(input, ctx, { maxString: 64 });
        encodeConfig({ args: r.args.map((a) => a.fetch), filters: r.filters, comm: r.comm, pid: r.pid, tid: r.tid, uid: r.uid });
      });
      tally[`filter ${f}`] = (tally[`filter ${f}`] ?? 0) + 1;
    }
  }

  test('the valid seeds compile somewhere (the fuzzer starts from real expressions)', () => {
    const tally: Record<string, number> = {};
    for (const s of SEEDS) exercise(s, tally);
    expect(tally['compile ok']).toBeGreaterThan(5);
    expect(tally["filter ok"]).toBeGreaterThanOrEqual(3);
  });

  test('extreme inputs: typed errors, bounded time', () => {
    const tally: Record<string, number> = {};
    for (const s of EXTREME) exercise(s, tally);
    expect(tally['parse typed']).toBeGreaterThan(0);
  });

  test('3,000 random and mutated expressions (seed 20240611): typed errors or valid configs, never a crash', () => {
    const r = rng(Number(process.env.KN_FUZZ_SEED ?? 20240611));
    const tally: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const input = r() < 0.5 ? soup(r) : mutate(r, pick(r, SEEDS));
      exercise(input, tally);
    }
    // Both outcomes occur: the generator reaches past the parser into resolution.
    expect(tally['compile ok']).toBeGreaterThan(20);
    expect(tally['compile typed']).toBeGreaterThan(1000);
  });

  test('targets: random text gives a target or an OptionError', () => {
    const r = rng(7);
    const tally = { ok: 0, typed: 0 };
    const kinds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const input = r() < 0.5 ? soup(r) : mutate(r, pick(r, ['vfs_read', 'kprobe:vfs_read', 'tracepoint:sched:sched_switch', 'syscall:openat', 'kr:x']));
      tally[attempt('parseTarget', input, () => kinds.add(parseTarget(input, r() < 0.5).kind))]++;
    }
    // Both outcomes occur, and what parses is one of the target kinds.
    expect(tally.ok).toBeGreaterThan(100);
    expect(tally.typed).toBeGreaterThan(100);
    expect([...kinds].filter((k) => !['kprobe', 'kretprobe', 'tracepoint', 'syscall'].includes(k))).toEqual([]);
  });
});
