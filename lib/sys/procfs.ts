/**
 * A process's memory mappings, from /proc/<pid>/maps: to find the libraries
 * a process has loaded (uprobes) and to symbolize its stacks. A process may
 * be gone by the time its events are looked at, so `rememberMaps` keeps a
 * snapshot, refreshed after a few seconds (a reused pid, a dlopen), for at
 * most MAX_PROCESSES processes. The snapshot also keeps how to reach the
 * process's files (a container's root is held open, so that its files stay
 * reachable after it exits) and its pid as its own namespace numbers it.
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

/** Mappings with a name, and whether there is anonymous executable memory (JIT code). */
function parseMaps(text: string): { maps: Mapping[]; jit: boolean } {
  const maps: Mapping[] = [];
  let jit = false;
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    if (!m[7]) {
      jit ||= m[3][2] === 'x';
      continue;
    }
    maps.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[4], 16), path: m[7], id: `${m[5]}:${m[6]}` });
  }
  return { maps, jit };
}

function readMapsText(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return undefined;
  }
}

/** The mappings of `pid` that have a name; undefined when the process is gone. */
export function readMaps(pid: number): Mapping[] | undefined {
  const text = readMapsText(pid);
  return text === undefined ? undefined : parseMaps(text).maps;
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
  /** The path prefix under which the process's files are: '' when it shares our root. */
  root: string;
  /** Its pid in its own pid namespace (NSpid's last field), as the process itself knows it. */
  nspid: number;
  /** Its perf map (names of JIT code), held open from when it was first seen with anonymous executable memory. */
  perfMap?: number;
}

/** Processes whose mappings are kept. */
export const MAX_PROCESSES = 4096;
/** A snapshot older than this is read again when the process is seen (pid reuse, dlopen). */
const REFRESH_MS = 5000;
/** Processes whose root or perf map is held open at once; past this the oldest lets go. */
const MAX_HOLDING = 64;

const snapshots = new Map<number, Snapshot>();
/** Pids whose snapshot holds file descriptors, oldest first. */
const holding: number[] = [];
let generation = 0;
let ownRoot: fs.Stats | undefined;
let ownMounts: string | undefined;

/**
 * Snapshots the mappings of `pid` unless a recent snapshot exists. The
 * decoder calls it for each event with a user stack; it costs a Map lookup
 * unless the process is new.
 */
export function rememberMaps(pid: number, now = Date.now()): void {
  const had = snapshots.get(pid);
  if (had && now - had.read < REFRESH_MS) return;
  const text = readMapsText(pid);
  // Gone, or exited and not yet reaped (a zombie's maps are empty): keep what we had.
  if (!text) return;
  const { maps, jit } = parseMaps(text);
  const snap: Snapshot = had ? { ...had, maps, read: now } : { maps, read: now, root: '', nspid: readNsPid(pid) ?? pid };
  if (!had) snap.root = holdRoot(pid);
  if (jit && snap.perfMap === undefined) holdPerfMap(snap);
  snapshots.delete(pid);
  snapshots.set(pid, snap);
  if ((snap.root.startsWith('/proc/self/fd/') || snap.perfMap !== undefined) && !holding.includes(pid)) holding.push(pid);
  generation++;
  if (holding.length > MAX_HOLDING) letGo(holding[0]);
  if (snapshots.size > MAX_PROCESSES) {
    const oldest = snapshots.keys().next().value as number;
    letGo(oldest);
    snapshots.delete(oldest);
  }
}

/** Whether `pid` sees the files we see: the same mount namespace and root directory. */
function sharesOurFiles(pid: number): boolean {
  ownRoot ??= fs.statSync('/');
  ownMounts ??= fs.readlinkSync('/proc/self/ns/mnt');
  const st = fs.statSync(`/proc/${pid}/root`);
  return st.dev === ownRoot.dev && st.ino === ownRoot.ino && fs.readlinkSync(`/proc/${pid}/ns/mnt`) === ownMounts;
}

/**
 * '' when `pid` sees the files we see; else a prefix naming its root
 * through a file descriptor held open (`/proc/self/fd/N`), through which its
 * files (in its own mounts) stay reachable while its mount namespace lives,
 * and those its snapshot opened (a perf map) after that.
 */
function holdRoot(pid: number): string {
  try {
    if (sharesOurFiles(pid)) return '';
    const fd = fs.openSync(`/proc/${pid}/root`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    return `/proc/self/fd/${fd}`;
  } catch {
    // It exited meanwhile: our root is the best guess left.
    return '';
  }
}

/** Opens the perf map a JIT writes, `/tmp/perf-<pid>.map` as the process names it, while it can still be reached. */
function holdPerfMap(snap: Snapshot): void {
  try {
    snap.perfMap = fs.openSync(`${snap.root}/tmp/perf-${snap.nspid}.map`, 'r');
  } catch {
    // No perf map (yet): the JIT may write one later, looked for then.
  }
}

/** Closes what the snapshot of `pid` holds open; its files are then reached through /proc while it lives. */
function letGo(pid: number): void {
  const i = holding.indexOf(pid);
  if (i >= 0) holding.splice(i, 1);
  const snap = snapshots.get(pid);
  if (!snap) return;
  if (snap.root.startsWith('/proc/self/fd/')) {
    fs.closeSync(Number(snap.root.slice('/proc/self/fd/'.length)));
    snap.root = `/proc/${pid}/root`;
  }
  if (snap.perfMap !== undefined) fs.closeSync(snap.perfMap);
  snap.perfMap = undefined;
}

/** The last NSpid of /proc/<pid>/status: the pid the process has in its own namespace. */
export function readNsPid(pid: number): number | undefined {
  try {
    const m = /^NSpid:\s*([\d\s]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    const ids = m ? m[1].trim().split(/\s+/) : [];
    return ids.length ? Number(ids[ids.length - 1]) : undefined;
  } catch {
    return undefined;
  }
}

/** How to reach a process's files and its perf map, as remembered (or found now while it lives). */
export interface ProcessView {
  /** Prefixes a path the process names. */
  root: string;
  /** Its pid in its own namespace. */
  nspid: number;
  /** Where its perf map can be read: a held descriptor, or the path through its root. */
  perfMap: string;
}

export function processView(pid: number): ProcessView {
  const snap = snapshots.get(pid);
  const root = snap ? snap.root : liveRoot(pid);
  const nspid = snap ? snap.nspid : (readNsPid(pid) ?? pid);
  const perfMap = snap?.perfMap !== undefined ? `/proc/self/fd/${snap.perfMap}` : `${root}/tmp/perf-${nspid}.map`;
  return { root, nspid, perfMap };
}

/** A process seen without a snapshot: '' when it shares our root, else its root through /proc (while it lives). */
function liveRoot(pid: number): string {
  try {
    return sharesOurFiles(pid) ? '' : `/proc/${pid}/root`;
  } catch {
    return '';
  }
}

/** Grows with every snapshot taken: whoever went through them knows whether there is anything new. */
export function snapshotGeneration(): number {
  return generation;
}

/** Every remembered process's mappings (for finding files by build id). */
export function eachSnapshot(fn: (pid: number, maps: readonly Mapping[], root: string) => void): void {
  for (const [pid, snap] of snapshots) fn(pid, snap.maps, snap.root);
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
