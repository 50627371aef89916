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
  /** The path prefix under which the process's files are: '' when it shares our root. */
  root: string;
  /** Its pid in its own pid namespace (NSpid's last field), as the process itself knows it. */
  nspid: number;
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
  if (had) {
    snapshots.delete(pid);
    releaseRoot(had.root);
  }
  snapshots.set(pid, { maps, read: now, root: holdRoot(pid), nspid: readNsPid(pid) ?? pid });
  generation++;
  if (snapshots.size > MAX_PROCESSES) {
    const oldest = snapshots.keys().next().value as number;
    releaseRoot((snapshots.get(oldest) as Snapshot).root);
    snapshots.delete(oldest);
  }
}

/** Roots of other mount namespaces held open at once; past this the oldest is let go. */
const MAX_ROOTS = 64;
const heldRoots: number[] = [];

let ownRoot: fs.Stats | undefined;

/**
 * '' when `pid` has our root directory; else a prefix naming its root
 * through a file descriptor held open, so that the process's files can be
 * opened after it exits (`/proc/self/fd/N`).
 */
function holdRoot(pid: number): string {
  try {
    ownRoot ??= fs.statSync('/');
    const st = fs.statSync(`/proc/${pid}/root`);
    if (st.dev === ownRoot.dev && st.ino === ownRoot.ino) return '';
    const fd = fs.openSync(`/proc/${pid}/root`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    heldRoots.push(fd);
    if (heldRoots.length > MAX_ROOTS) releaseRoot(`/proc/self/fd/${heldRoots[0]}`);
    return `/proc/self/fd/${fd}`;
  } catch {
    return `/proc/${pid}/root`;
  }
}

function releaseRoot(root: string): void {
  const m = /^\/proc\/self\/fd\/(\d+)$/.exec(root);
  if (!m) return;
  const fd = Number(m[1]);
  const i = heldRoots.indexOf(fd);
  if (i < 0) return;
  heldRoots.splice(i, 1);
  fs.closeSync(fd);
  for (const snap of snapshots.values()) if (snap.root === root) snap.root = '';
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

/**
 * How to reach the files of `pid`, and its namespaced pid, as remembered
 * (or read now while it lives): `root` prefixes a path the process names.
 */
export function processView(pid: number): { root: string; nspid: number } {
  const snap = snapshots.get(pid);
  if (snap) return { root: snap.root, nspid: snap.nspid };
  return { root: fs.existsSync(`/proc/${pid}`) ? holdRootOnce(pid) : '', nspid: readNsPid(pid) ?? pid };
}

/** A live process seen without a snapshot: reach it through /proc while it lives. */
function holdRootOnce(pid: number): string {
  try {
    ownRoot ??= fs.statSync('/');
    const st = fs.statSync(`/proc/${pid}/root`);
    return st.dev === ownRoot.dev && st.ino === ownRoot.ino ? '' : `/proc/${pid}/root`;
  } catch {
    return '';
  }
}

let generation = 0;

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
