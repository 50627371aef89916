/**
 * A process's memory mappings, from /proc/<pid>/maps: to find the libraries
 * a process has loaded (uprobes) and to symbolize its stacks. A process may
 * be gone by the time its events are looked at, so `rememberMaps` keeps a
 * snapshot, refreshed after a few seconds (a reused pid, a dlopen), for at
 * most MAX_PROCESSES processes.
 */
import * as fs from 'fs';

export interface Mapping {
  start: number;
  end: number;
  /** File offset of `start`. */
  offset: number;
  /** The file, or a pseudo name such as `[vdso]`. */
  path: string;
  /** Device and inode: tells two versions of one path apart. */
  id: string;
}

/** The mappings of `pid` that have a name; undefined when the process is gone. */
export function readMaps(pid: number): Mapping[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return undefined;
  }
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m || !m[6]) continue;
    maps.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[3], 16), path: m[6], id: `${m[4]}:${m[5]}` });
  }
  return maps;
}

/** The files `pid` maps (not deleted ones); undefined when the process is gone. */
export function mappedFiles(pid: number): string[] | undefined {
  const maps = readMaps(pid);
  if (!maps) return undefined;
  return [...new Set(maps.filter((m) => m.path.startsWith('/') && !m.path.endsWith(' (deleted)')).map((m) => m.path))];
}

interface Snapshot {
  maps: Mapping[];
  read: number;
}

/** Processes whose mappings are kept. */
export const MAX_PROCESSES = 4096;
/** A snapshot older than this is read again when the process is seen (pid reuse, dlopen). */
const REFRESH_MS = 5000;

const snapshots = new Map<number, Snapshot>();

/**
 * Snapshots the mappings of `pid` unless a recent snapshot exists. The
 * decoder calls it for each event with a user stack; it costs a Map lookup
 * unless the process is new.
 */
export function rememberMaps(pid: number, now = Date.now()): void {
  const had = snapshots.get(pid);
  if (had && now - had.read < REFRESH_MS) return;
  const maps = readMaps(pid);
  if (!maps) return; // gone: keep what we had
  if (had) snapshots.delete(pid);
  snapshots.set(pid, { maps, read: now });
  if (snapshots.size > MAX_PROCESSES) snapshots.delete(snapshots.keys().next().value as number);
}

/** The remembered mappings of `pid`, read now if there are none yet. */
export function mapsOf(pid: number): Mapping[] | undefined {
  if (!snapshots.has(pid)) rememberMaps(pid);
  return snapshots.get(pid)?.maps;
}

/** Whether a snapshot of `pid`'s mappings is held. */
export function hasSnapshot(pid: number): boolean {
  return snapshots.has(pid);
}
