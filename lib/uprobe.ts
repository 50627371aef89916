/**
 * User-space probes: a function (or an address) in an executable or a shared
 * library, found through the file's ELF symbols and attached at its file
 * offset. Arguments are the untyped registers arg0..arg5 (no BTF for user
 * code); `:type` suffixes read them as integers or user strings.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ProbeOptions, SummaryConfig, checkOptions, compile } from './attach';
import { ElfFile, ElfSymbol } from './elf';
import { NotFoundError, OptionError, closest } from './errors';
import { rawContext } from './fetch';
import type { Probe } from './probe';
import { Session } from './session';
import type { UprobeTarget } from './target';

/**
 * Options of a uprobe. `pid` also limits the attachment to that process, and
 * a library named without a path is then looked up in its /proc/<pid>/maps.
 */
export type UprobeOptions = ProbeOptions;

/** Where in a file a probe goes. */
export interface UprobeLocation {
  /** The file attached to (a path in this mount namespace). */
  binary: string;
  /** The function, when the location was given as `symbol` or `symbol+offset`. */
  symbol?: string;
  /** Virtual address, as `nm` and `objdump` show it. */
  address: number;
  /** Offset in the file: what the kernel attaches to. */
  fileOffset: number;
}

/** Directories searched for a library named without a path when ld.so.cache does not have it. */
const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];

/** Whether a file name is the library `name`: `libc` and `c` match libc.so.6, `libc.so.6` only itself. */
export function libraryMatches(name: string, file: string): boolean {
  if (file === name) return true;
  const stems = name.includes('.so') ? [name] : [`${name}.so`, `lib${name}.so`];
  for (const stem of stems) if (file === stem || file.startsWith(`${stem}.`)) return true;
  // glibc before 2.34 names some files libc-2.31.so.
  return !name.includes('.so') && file.startsWith(`${name}-`) && /\.so$/.test(file);
}

/**
 * The libraries /etc/ld.so.cache lists, name -> paths, in the cache's order.
 * Reads the "glibc-ld.so.cache1.1" layout: a 48-byte header, then 24-byte
 * entries whose key (name) and value (path) are string offsets from the header.
 */
export function readLdCache(file = '/etc/ld.so.cache'): Array<{ name: string; path: string }> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return [];
  }
  const MAGIC = 'glibc-ld.so.cache1.1';
  const base = buf.indexOf(MAGIC, 0, 'latin1');
  if (base < 0 || base + 48 > buf.length) return [];
  const count = buf.readUInt32LE(base + 20);
  const str = (at: number): string => {
    const from = base + at;
    if (from >= buf.length) return '';
    const end = buf.indexOf(0, from);
    return buf.toString('utf8', from, end < 0 ? buf.length : end);
  };
  const out: Array<{ name: string; path: string }> = [];
  for (let i = 0; i < count; i++) {
    const at = base + 48 + i * 24;
    if (at + 24 > buf.length) break;
    const name = str(buf.readUInt32LE(at + 4));
    const p = str(buf.readUInt32LE(at + 8));
    if (name && p.startsWith('/')) out.push({ name, path: p });
  }
  return out;
}

/** Mapped files of a process, from /proc/<pid>/maps. Throws NotFoundError when it is gone. */
export function mappedFiles(pid: number): string[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    throw new NotFoundError(`no process ${pid}`);
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\/.*)$/.exec(line);
    if (m && !m[1].endsWith(' (deleted)')) files.add(m[1]);
  }
  return [...files];
}

/**
 * The file a target names: a path (`/usr/bin/bash`, `./a.out`), a library
 * (`libc`, `libc.so.6`: in /proc/<pid>/maps when `pid` is given, else through
 * ld.so.cache and the usual directories), or a program on PATH (`bash`).
 */
export function resolveBinary(target: string, pid?: number): string {
  if (typeof target !== 'string' || target === '') throw new OptionError('a uprobe target must name a binary or a library');
  if (target.includes('/')) {
    const abs = path.resolve(target);
    if (!fs.existsSync(abs)) throw new NotFoundError(`no binary ${abs}`);
    return abs;
  }
  if (pid !== undefined) {
    const files = mappedFiles(pid);
    const hit = files.find((f) => libraryMatches(target, path.basename(f))) ?? files.find((f) => path.basename(f) === target);
    if (hit) {
      // A process in another mount namespace: reach its file through its root.
      return fs.existsSync(hit) ? hit : `/proc/${pid}/root${hit}`;
    }
    throw new NotFoundError(`process ${pid} maps no library or binary ${target}`, closest(target, files.map((f) => path.basename(f))));
  }
  const cache = readLdCache();
  for (const e of cache) if (libraryMatches(target, e.name) && ElfFile.isNative(e.path)) return e.path;
  for (const dir of LIB_DIRS) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) if (libraryMatches(target, n) && ElfFile.isNative(path.join(dir, n))) return path.join(dir, n);
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, target);
    if (ElfFile.isNative(p)) return p;
  }
  throw new NotFoundError(`no library or program ${target} (looked in ld.so.cache, ${LIB_DIRS.join(', ')} and PATH)`, closest(target, new Set(cache.map((e) => e.name.replace(/\.so.*$/, '')))));
}

/** `symbol`, `symbol+0x10` (or +16), or a raw virtual address `0x1234`. */
export function parseLocation(spec: string): { symbol?: string; offset: number } {
  if (typeof spec !== 'string') throw new OptionError('a uprobe location must be a string');
  const addr = /^0x([0-9a-fA-F]+)$/.exec(spec);
  if (addr) return { offset: parseInt(addr[1], 16) };
  const m = /^([A-Za-z_.$][\w.$@]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(spec);
  if (!m) throw new OptionError(`a uprobe location is symbol, symbol+offset or 0xADDRESS, got ${JSON.stringify(spec)}`);
  return { symbol: m[1], offset: m[2] === undefined ? 0 : Number(m[2]) };
}

/** Resolves `spec` in the ELF file at `binary` to a virtual address and a file offset. */
export function resolveLocation(binary: string, spec: string): UprobeLocation {
  const loc = parseLocation(spec);
  const elf = ElfFile.open(binary);
  if (loc.symbol === undefined) return { binary, address: loc.offset, fileOffset: elf.fileOffset(loc.offset) };
  const sym: ElfSymbol | undefined = elf.symbol(loc.symbol);
  if (!sym) {
    const names = elf.names();
    if (!names.length) throw new NotFoundError(`no function ${loc.symbol} in ${binary}: it has no symbols (stripped?); give an address, 0x...`);
    throw new NotFoundError(`no function ${loc.symbol} in ${binary}`, closest(loc.symbol, names));
  }
  if (sym.size && loc.offset >= sym.size) {
    throw new OptionError(`${spec}: offset ${loc.offset} is past the end of ${sym.name} (${sym.size} bytes)`);
  }
  const address = sym.address + loc.offset;
  return { binary, symbol: sym.name, address, fileOffset: elf.fileOffset(address) };
}

function uprobe(target: string, spec: string, opts: UprobeOptions | undefined, ret: boolean, summary?: SummaryConfig): Probe {
  const kind = ret ? 'uretprobe' : 'uprobe';
  const o = checkOptions(opts);
  const binary = resolveBinary(target, o.pid);
  const where = resolveLocation(binary, spec);
  const { plans, config } = compile(rawContext(kind, where.symbol ?? spec), o, undefined, summary);
  const name = `${kind}:${binary}:${spec}`;
  const pid = o.pid ?? -1;
  return Session.get().attach({
    name,
    kind,
    strategy: `${kind} ${binary}+0x${where.fileOffset.toString(16)}`,
    plans,
    config,
    attachers: [(t, cookie) => t.attachUprobe(binary, where.fileOffset, ret, pid, cookie)],
    describe: `attach ${name}`,
    notFound: () => (o.pid !== undefined && !fs.existsSync(`/proc/${o.pid}`) ? new NotFoundError(`no process ${o.pid}`) : new NotFoundError(`no binary ${binary}`)),
  });
}

/**
 * Traces calls of a user-space function: `attachUprobe('/usr/bin/bash', 'readline')`,
 * `attachUprobe('libc', 'malloc', { pid })`. Events carry `arg0`..`arg5`
 * (or what `args` asks for, e.g. `arg0:ustring`).
 */
export function attachUprobe(target: string, location: string, opts?: UprobeOptions): Probe {
  return uprobe(target, location, opts, false);
}

/** Traces returns from a user-space function; events carry the return value as `ret`. */
export function attachUretprobe(target: string, location: string, opts?: UprobeOptions): Probe {
  return uprobe(target, location, opts, true);
}

/** Attaches what parseUprobeTarget() returned; with `summary`, counting or a histogram in the kernel (lib/aggregate.ts). */
export function attachUprobeTarget(t: UprobeTarget, opts?: UprobeOptions, summary?: SummaryConfig): Probe {
  return uprobe(t.binary, t.location, opts, t.kind === 'uretprobe', summary);
}
