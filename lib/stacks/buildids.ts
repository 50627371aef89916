/**
 * ELF files by build id: how a user frame the kernel named by build id and
 * file offset finds its file, also after its process is gone. Where files
 * come from, cheapest first:
 *
 *   - files seen: uprobe targets, the -c command, and the files in the
 *     mappings of every process whose stacks were decoded while it lived
 *     (lib/sys/procfs.ts keeps those), and this process's own libraries;
 *   - debug directories, `<dir>/.build-id/ab/cdef….debug` (default
 *     /usr/lib/debug; configure({ debugDirectories }), KPROBE_NODE_DEBUG_DIRS);
 *   - once, as a last resort: the libraries ld.so.cache lists and the
 *     programs on PATH (a short-lived program nobody else maps).
 *
 * A candidate's build id is read (headers and notes only) when a frame asks
 * for an id not found yet; its symbols only when a frame is in it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ElfFile } from '../sys/elf';
import { readLdCache } from '../sys/libraries';
import { Mapping, eachSnapshot, readMaps, snapshotGeneration } from '../sys/procfs';

/** Build id -> a path holding that file. */
const byId = new Map<string, string>();
/** Paths whose build id has been read (or that have none), and identities (dev:inode) of mapped files. */
const looked = new Set<string>();
/** Candidates not read yet. */
let pending: string[] = [];
/** Files reached through another process's root (`/proc/self/fd/N/usr/bin/node`) -> the path that process names. */
const shownAs = new Map<string, string>();
/** Past this many build ids or looked-at paths, the oldest ids are forgotten and the paths looked at again: memory stays bounded. */
const MAX_KNOWN = 1 << 16;

const DEFAULT_DEBUG_DIRS = ['/usr/lib/debug'];
let debugDirs: string[] = process.env.KPROBE_NODE_DEBUG_DIRS ? process.env.KPROBE_NODE_DEBUG_DIRS.split(':').filter(Boolean) : DEFAULT_DEBUG_DIRS;
let scannedSystem = false;

/** Directories of separate debug files, searched by build id (`<dir>/.build-id/xx/rest.debug`). */
export function setDebugDirectories(dirs: readonly string[]): void {
  debugDirs = [...dirs];
}

export function debugDirectories(): readonly string[] {
  return debugDirs;
}

/** Offers a file (a uprobe target, a command about to run) whose frames may come up later. */
export function rememberFile(file: string): void {
  if (!looked.has(file)) pending.push(file);
}

/** Reads the build ids of the candidates waiting; returns whether `id` is known now. */
function readPending(id: string): boolean {
  const list = pending;
  pending = [];
  for (const file of list) {
    if (looked.has(file)) continue;
    if (looked.size >= MAX_KNOWN) looked.clear();
    looked.add(file);
    const got = ElfFile.buildIdOf(file);
    if (got && !byId.has(got)) byId.set(got, file);
    if (byId.size > MAX_KNOWN) byId.delete(byId.keys().next().value as string);
  }
  return byId.has(id);
}

/** The snapshot generation whose mapped files have been offered. */
let offeredGeneration = -1;

/** The mapped files of the remembered processes, and of this one, as candidates. */
function offerMappedFiles(): void {
  if (offeredGeneration === snapshotGeneration()) return;
  offeredGeneration = snapshotGeneration();
  const offer = (maps: readonly Mapping[], root: string) => {
    for (const m of maps) {
      if (!m.path.startsWith('/') || m.path.endsWith(' (deleted)')) continue;
      const identity = `${root}\0${m.id}`;
      if (looked.has(identity)) continue;
      if (looked.size >= MAX_KNOWN) looked.clear();
      looked.add(identity);
      pending.push(root + m.path);
      if (root) {
        if (shownAs.size >= MAX_KNOWN) shownAs.clear();
        shownAs.set(root + m.path, m.path);
      }
    }
  };
  eachSnapshot((_pid, maps, root) => offer(maps, root));
  offer(readMaps(process.pid) ?? [], '');
}

/** Separate debug files by build id, in the debug directories. */
function inDebugDirs(id: string): string | undefined {
  for (const dir of debugDirs) {
    for (const file of [path.join(dir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`), path.join(dir, '.build-id', id.slice(0, 2), id.slice(2))]) {
      if (ElfFile.buildIdOf(file) === id) return file;
    }
  }
  return undefined;
}

/** Programs on PATH and the libraries of ld.so.cache, as candidates: once per process. */
function offerSystemFiles(): void {
  if (scannedSystem) return;
  scannedSystem = true;
  for (const lib of readLdCache()) rememberFile(lib.path);
  for (const dir of new Set((process.env.PATH ?? '/usr/bin:/bin').split(':').filter((d) => d.startsWith('/')))) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) rememberFile(path.join(dir, name));
  }
}

/** Ids not found, with the snapshot generation of the search: not searched again until something new comes. */
const unknown = new Map<string, number>();
const MAX_UNKNOWN = 4096;

/** The path of a file with build id `id`, looking further each time it is not known yet. */
export function fileWithBuildId(id: string): string | undefined {
  const known = byId.get(id);
  if (known !== undefined) return known;
  if (readPending(id)) return byId.get(id);
  if (unknown.get(id) === snapshotGeneration()) return undefined;
  offerMappedFiles();
  if (readPending(id)) return byId.get(id);
  const debug = inDebugDirs(id);
  if (debug) {
    byId.set(id, debug);
    return debug;
  }
  offerSystemFiles();
  if (readPending(id)) return byId.get(id);
  if (unknown.size >= MAX_UNKNOWN) unknown.clear();
  unknown.set(id, snapshotGeneration());
  return undefined;
}

/** Open ELF files kept at once. */
const MAX_FILES = 256;
const elfs = new Map<string, ElfFile | null>();

/** The ELF file at `file` (symbols read once, kept for MAX_FILES files); null when it cannot be read. */
export function elfAt(file: string): ElfFile | null {
  let elf = elfs.get(file);
  if (elf !== undefined) return elf;
  try {
    elf = ElfFile.open(file);
  } catch {
    elf = null;
  }
  elfs.set(file, elf);
  if (elfs.size > MAX_FILES) elfs.delete(elfs.keys().next().value as string);
  return elf;
}

/** How a frame names the file at `file`: as its process names it, for a file reached through another mount namespace's root. */
export function shownName(file: string): string {
  return shownAs.get(file) ?? file;
}

/** The ELF file with build id `id`, if one can be found. */
export function elfWithBuildId(id: string): ElfFile | undefined {
  const file = fileWithBuildId(id);
  if (file === undefined) return undefined;
  const elf = elfAt(file);
  if (elf && elf.buildId === id) return elf;
  // Replaced since its id was read: look again.
  byId.delete(id);
  elfs.delete(file);
  return undefined;
}
