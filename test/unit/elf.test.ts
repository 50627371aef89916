/**
 * The ELF reader against binutils' reading of the same files: function
 * symbols (nm), file offsets (bytes objdump shows for a function), and the
 * pieces of uprobe target resolution that need no kernel.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ElfFile } from '../../lib/sys/elf';
import { NotFoundError, OptionError } from '../../lib/errors';
import { parseStackOption } from '../../lib/cli/options';
import { parseTarget } from '../../lib/attach/target';
import { parseLocation, resolveLocation } from '../../lib/attach/uprobe';
import { libraryMatches, readLdCache, resolveBinary } from '../../lib/sys/libraries';
import { errorOf } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { buildUprog, instructionAddresses } from '../helpers/uprog';

/**
 * Defined functions of one symbol table as `readelf -Ws` reads them:
 * `name@address` (the @VERSION readelf appends is dropped), and name -> address
 * of the default version (`name@@V`, or no version).
 */
function readelfFunctions(file: string, table: '.symtab' | '.dynsym'): { pairs: Set<string>; byName: Map<string, number> } {
  const out = execFileSync('readelf', ['-Ws', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const pairs = new Set<string>();
  const byName = new Map<string, number>();
  let current = '';
  for (const line of out.split('\n')) {
    const head = /^Symbol table '(\S+)'/.exec(line);
    if (head) current = head[1];
    const m = /^\s*\d+: ([0-9a-f]+)\s+\d+ (FUNC|IFUNC)\s+\S+\s+\S+\s+(\S+) (\S+)/.exec(line);
    if (current !== table || !m || m[3] === 'UND' || /^0+$/.test(m[1])) continue;
    const name = m[4].replace(/@.*$/, '');
    const address = parseInt(m[1], 16);
    pairs.add(`${name}@${address}`);
    if (!m[4].includes('@') || m[4].includes('@@')) byName.set(name, address);
  }
  return { pairs, byName };
}

/** The file's bytes at an offset, as hex. */
function bytesAt(file: string, offset: number, n: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, offset);
    return buf.toString('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** The first bytes objdump shows for a function, as hex. */
function objdumpBytes(file: string, fn: string): string {
  const text = execFileSync('objdump', ['-d', `--disassemble=${fn}`, file], { encoding: 'utf8' });
  const m = /^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/m.exec(text);
  if (!m) throw new Error(`objdump shows no bytes for ${fn}`);
  return m[1].replace(/ /g, '');
}

function libc(): string {
  const p = resolveBinary('libc');
  return p;
}

describeHost('ELF reader', { tools: ['gcc', 'readelf', 'objdump'] }, () => {
  let pie: string;
  let nopie: string;

  beforeAll(() => {
    pie = buildUprog();
    nopie = buildUprog(['-no-pie']);
  });
  afterAll(() => {
    for (const exe of [pie, nopie]) fs.rmSync(path.dirname(exe), { recursive: true, force: true });
  });

  test('.symtab functions of the test program equal readelf\'s, name and address', () => {
    const elf = ElfFile.open(pie);
    const ours = elf.functions().filter((s) => s.table === '.symtab').map((s) => `${s.name}@${s.address}`);
    const theirs = readelfFunctions(pie, '.symtab');
    expect(theirs.byName.get('kn_add')).toBeGreaterThan(0);
    expect(ours.sort()).toEqual([...theirs.pairs].sort());
    for (const [name, address] of theirs.byName) expect(elf.symbol(name)?.address).toBe(address);
    expect(elf.symbol('kn_caller')).toMatchObject({ name: 'kn_caller', table: '.symtab', bind: 1 });
    expect(elf.symbol('kn_caller')!.size).toBeGreaterThan(0);
  });

  test('.dynsym of libc: the functions readelf lists; a name means its default version', () => {
    const file = libc();
    const elf = ElfFile.open(file);
    const theirs = readelfFunctions(file, '.dynsym');
    expect(theirs.pairs.size).toBeGreaterThan(500);
    const ours = elf.functions().filter((s) => s.table === '.dynsym').map((s) => `${s.name}@${s.address}`);
    expect(ours.sort()).toEqual([...theirs.pairs].sort());
    for (const [name, address] of theirs.byName) expect([name, elf.symbol(name)?.address]).toEqual([name, address]);
    expect(elf.symbol('malloc')?.table).toBe('.dynsym');
  });

  test.each([
    ['PIE', () => pie],
    ['non-PIE (text at 0x400000 + offset)', () => nopie],
  ])('%s: the file offset of kn_add holds the bytes objdump shows for it', (_what, exe) => {
    const file = exe();
    const elf = ElfFile.open(file);
    const sym = elf.symbol('kn_add')!;
    const offset = elf.fileOffset(sym.address);
    const expected = objdumpBytes(file, 'kn_add');
    expect(bytesAt(file, offset, expected.length / 2)).toBe(expected);
    expect(elf.vaddr(offset)).toBe(sym.address);
    if (file === nopie) expect(sym.address - offset).toBe(0x400000);
  });

  test('containing(): an address inside kn_caller is kn_caller + its offset', () => {
    const elf = ElfFile.open(pie);
    const insns = instructionAddresses(pie, 'kn_caller');
    const start = elf.symbol('kn_caller')!.address;
    expect(insns[0]).toBe(start);
    const hit = elf.containing(insns[3]);
    expect(hit?.symbol.name).toBe('kn_caller');
    expect(hit?.offset).toBe(insns[3] - start);
    expect(elf.containing(0x10)).toBeUndefined();
  });

  test('resolveLocation: symbol, symbol+offset, raw address', () => {
    const elf = ElfFile.open(pie);
    const add = elf.symbol('kn_add')!;
    expect(resolveLocation(pie, 'kn_add')).toEqual({ binary: pie, symbol: 'kn_add', address: add.address, fileOffset: elf.fileOffset(add.address) });
    expect(resolveLocation(pie, 'kn_add+0x4').address).toBe(add.address + 4);
    expect(resolveLocation(pie, 'kn_add+4').address).toBe(add.address + 4);
    const raw = resolveLocation(pie, `0x${add.address.toString(16)}`);
    expect(raw).toMatchObject({ address: add.address, fileOffset: elf.fileOffset(add.address) });
    expect(raw.symbol).toBeUndefined();
  });

  test('errors: missing file, not ELF, unknown symbol (with the closest), offset past the end', () => {
    expect(errorOf(() => ElfFile.open('/no/such/file'))).toBeInstanceOf(NotFoundError);
    const notElf = path.join(os.tmpdir(), `kn-not-elf-${process.pid}`);
    fs.writeFileSync(notElf, 'hello');
    try {
      expect(errorOf(() => ElfFile.open(notElf))).toBeInstanceOf(OptionError);
    } finally {
      fs.rmSync(notElf);
    }
    const e = errorOf(() => resolveLocation(pie, 'kn_ad'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.suggestions).toContain('kn_add');
    expect(e.message).toMatch(/no function kn_ad in .*did you mean .*kn_add/);
    expect(errorOf(() => resolveLocation(pie, 'kn_add+0x10000'))).toBeInstanceOf(OptionError);
    expect(errorOf(() => resolveLocation(pie, '1nope'))).toBeInstanceOf(OptionError);
  });
});

describeHost('library and target resolution', { tools: ['ldconfig'] }, () => {
  test('readLdCache lists what ldconfig -p lists', () => {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
    const theirs = [...out.matchAll(/^\s+(\S+) \(.*\) => (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(theirs.length).toBeGreaterThan(10);
    expect(readLdCache().map((e) => `${e.name} ${e.path}`).sort()).toEqual(theirs.sort());
  });

  test('libc resolves to a 64-bit libc.so of this machine', () => {
    const p = resolveBinary('libc');
    expect(path.basename(p)).toMatch(/^libc\.so\.\d+$/);
    expect(ElfFile.isNative(p)).toBe(true);
    expect(resolveBinary('c')).toBe(p);
    expect(resolveBinary(path.basename(p))).toBe(p);
  });

  test('a bare program name is found on PATH; unknown names are NotFoundError', () => {
    expect(resolveBinary('ldconfig')).toMatch(/\/ldconfig$/);
    const e = errorOf(() => resolveBinary('libnosuchlibrary'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(errorOf(() => resolveBinary('/no/such/bin'))).toBeInstanceOf(NotFoundError);
  });

  test('libraryMatches', () => {
    expect(libraryMatches('libc', 'libc.so.6')).toBe(true);
    expect(libraryMatches('c', 'libc.so.6')).toBe(true);
    expect(libraryMatches('libc', 'libc-2.31.so')).toBe(true);
    expect(libraryMatches('libc.so.6', 'libc.so.6')).toBe(true);
    expect(libraryMatches('libc', 'libcrypt.so.1')).toBe(false);
    expect(libraryMatches('libc', 'libc_malloc_debug.so.0')).toBe(false);
    expect(libraryMatches('libm', 'libmvec.so.1')).toBe(false);
  });
});

describe('uprobe and --stack parsing', () => {
  test.each([
    ['uprobe:/bin/sh:main', false, { kind: 'uprobe', binary: '/bin/sh', location: 'main' }],
    ['u:libc:malloc', false, { kind: 'uprobe', binary: 'libc', location: 'malloc' }],
    ['uprobe:libc:malloc', true, { kind: 'uretprobe', binary: 'libc', location: 'malloc' }],
    ['uretprobe:/a:b/c:kn_add+0x4', false, { kind: 'uretprobe', binary: '/a:b/c', location: 'kn_add+0x4' }],
    ['ur:./prog:0x1139', false, { kind: 'uretprobe', binary: './prog', location: '0x1139' }],
  ] as const)('%s (ret=%s)', (text, ret, expected) => {
    expect(parseTarget(text, ret)).toEqual(expected);
  });

  test.each(['uprobe:/bin/sh', 'uprobe:main', 'uretprobe:/bin/sh:'])('%s is an OptionError', (text) => {
    expect(errorOf(() => parseTarget(text))).toBeInstanceOf(OptionError);
  });

  test('parseLocation', () => {
    expect(parseLocation('malloc')).toEqual({ symbol: 'malloc', offset: 0 });
    expect(parseLocation('_ZN4node5StartEv+0x10')).toEqual({ symbol: '_ZN4node5StartEv', offset: 16 });
    expect(parseLocation('0x1a2B')).toEqual({ offset: 0x1a2b });
    expect(errorOf(() => parseLocation('a b'))).toBeInstanceOf(OptionError);
  });

  test('parseStackOption: bare means both; a target swallowed by the option comes back', () => {
    expect(parseStackOption(undefined)).toEqual({});
    expect(parseStackOption('')).toEqual({ stack: 'both' });
    expect(parseStackOption('user')).toEqual({ stack: 'user' });
    expect(parseStackOption('kernel')).toEqual({ stack: 'kernel' });
    expect(parseStackOption('syscalls:sys_enter_syncfs')).toEqual({ stack: 'both', target: 'syscalls:sys_enter_syncfs' });
    expect(errorOf(() => parseStackOption('kernal'))).toBeInstanceOf(OptionError);
  });
});
