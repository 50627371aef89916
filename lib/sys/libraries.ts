/**
 * Finding the file a uprobe target names: a path, a library by name (through
 * ld.so.cache, the usual directories, or a process's own mappings) or a
 * program on PATH.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, OptionError } from '../errors';
import { ElfFile } from './elf';
import { closest } from './names';
import { mappedFiles } from './procfs';

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
    if (!files) throw new NotFoundError(`no process ${pid}`);
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
