/**
 * cgroup v2 as this process sees it: where the hierarchy is mounted (alone,
 * or at /sys/fs/cgroup/unified beside the v1 controllers), the directory a
 * `cgroup` option names, and the path and container of a cgroup id, which
 * is what events carry (a cgroup's id is its directory's inode number).
 */
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, OptionError, UnsupportedError } from '../errors';
import { fsError } from './errno';

/** What a `cgroup` option may be: this process's own, a path, or an id (`event.cgroupId`). */
export type CgroupSpec = 'self' | string | number | bigint;

export interface Cgroup2Mount {
  /** Where it is mounted: `/sys/fs/cgroup`, `/sys/fs/cgroup/unified`. */
  dir: string;
  /** The cgroup at that directory, as /proc/self/cgroup names cgroups (`/` unless a subtree is mounted). */
  root: string;
}

/** mountinfo escapes spaces and the like as octal: `\040`. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup2 mount, from /proc/self/mountinfo; UnsupportedError where there is none. */
export function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): Cgroup2Mount {
  let text: string;
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch (e) {
    throw fsError(e, `read ${mountinfo}`);
  }
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!right || right.split(' ')[0] !== 'cgroup2') continue;
    const f = left.split(' ');
    return { dir: unescape(f[4]), root: unescape(f[3]) };
  }
  throw new UnsupportedError('cgroup2', 'no cgroup v2 hierarchy is mounted (no cgroup2 in /proc/self/mountinfo): mount one with: mount -t cgroup2 none /sys/fs/cgroup/unified');
}

/** This process's cgroup v2 path, as /proc/self/cgroup shows it (`0::/system.slice/app.service`). */
export function ownCgroup(): string {
  const text = fs.readFileSync('/proc/self/cgroup', 'utf8');
  const m = /^0::(.*)$/m.exec(text);
  if (!m) throw new UnsupportedError('cgroup2', 'this process has no cgroup v2 (no 0:: line in /proc/self/cgroup)');
  return m[1];
}

/** The directory of the cgroup at `cgroupPath` (as /proc/<pid>/cgroup names it) under the mount. */
function directoryOf(mount: Cgroup2Mount, cgroupPath: string): string | undefined {
  const rel = path.posix.relative(mount.root, path.posix.resolve('/', cgroupPath));
  if (rel.startsWith('..')) return undefined; // outside the mounted subtree
  return path.join(mount.dir, rel);
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The directory of the cgroup a `cgroup` option names: 'self' (this
 * process's), a directory under the cgroup2 mount, a path as
 * /proc/<pid>/cgroup shows it (`/system.slice/docker-<id>.scope`), or a
 * cgroup id. Typed errors for anything else.
 */
export function cgroupDirectory(spec: CgroupSpec): string {
  const mount = cgroup2Mount();
  if (typeof spec === 'number' || typeof spec === 'bigint') {
    const id = Number(spec);
    const found = cgroupPath(id, { rescan: true });
    if (found === undefined) throw new NotFoundError(`no cgroup with id ${String(spec)} under ${mount.dir}`);
    return directoryOf(mount, found) as string;
  }
  if (spec === 'self') {
    const own = ownCgroup();
    const dir = directoryOf(mount, own);
    if (dir === undefined || !isDirectory(dir)) throw new NotFoundError(`this process's cgroup ${own} is not under the cgroup2 mount ${mount.dir}`);
    return dir;
  }
  const inMount = spec === mount.dir || spec.startsWith(mount.dir.endsWith('/') ? mount.dir : `${mount.dir}/`);
  const dir = inMount ? path.resolve(spec) : directoryOf(mount, spec);
  if (dir !== undefined && isDirectory(dir)) return dir;
  if (spec.startsWith('/') && !inMount && isDirectory(spec)) {
    throw new OptionError(`${spec} is not in the cgroup v2 hierarchy, which is mounted at ${mount.dir}`);
  }
  throw new NotFoundError(`no cgroup ${spec} (looked for the directory ${dir ?? spec} in the cgroup v2 hierarchy at ${mount.dir})`);
}

// ---------------------------------------------------------------------------
// From a cgroup id (what events carry) to its path and its container.

interface Known {
  path: string;
  container?: string;
}

/** Cgroups by id, from the last walk of the hierarchy; deleted ones stay (their ids are never reused). */
let known = new Map<number, Known>();
let lastScan = 0;
/** A miss walks the hierarchy again at most this often: a cgroup made since, or one outside our view. */
const RESCAN_MS = 1000;
const MAX_KNOWN = 65536;

function scan(): void {
  let mount: Cgroup2Mount;
  try {
    mount = cgroup2Mount();
  } catch {
    return;
  }
  const found = known.size > MAX_KNOWN ? new Map<number, Known>() : known;
  const walk = (dir: string, cgroup: string) => {
    let ino: number;
    let entries: fs.Dirent[];
    try {
      ino = fs.statSync(dir).ino;
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed meanwhile
    }
    if (!found.has(ino)) found.set(ino, { path: cgroup, container: containerId(cgroup) });
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name), path.posix.join(cgroup, e.name));
  };
  walk(mount.dir, mount.root);
  known = found;
  lastScan = Date.now();
}

/**
 * The path of the cgroup with id `id` (`/system.slice/docker-<id>.scope`),
 * as /proc/<pid>/cgroup would show it; undefined when it is not in the part
 * of the hierarchy this process sees (another cgroup namespace).
 */
export function cgroupPath(id: number, how: { rescan?: boolean } = {}): string | undefined {
  const hit = known.get(id);
  if (hit) return hit.path;
  if (how.rescan || Date.now() - lastScan >= RESCAN_MS) scan();
  return known.get(id)?.path;
}

/** The id of the container whose cgroup holds cgroup `id`, when its path names one. */
export function containerOf(id: number): string | undefined {
  if (!known.has(id)) cgroupPath(id);
  return known.get(id)?.container;
}

/**
 * Container runtimes name a container's cgroup after its 64-hex id:
 * `docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
 * `libpod-<id>.scope` (systemd driver), or `<id>` itself under `/docker/`
 * or `/kubepods/...` (cgroupfs driver). The innermost such component names
 * the container: a container's own sub-cgroups belong to it, and a container
 * run inside another is the inner one.
 */
const SCOPE = /^(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$/;
const BARE = /^[0-9a-f]{64}$/;

export function containerId(cgroup: string): string | undefined {
  const parts = cgroup.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const scope = SCOPE.exec(parts[i]);
    if (scope) return scope[1];
    if (BARE.test(parts[i]) && parts.slice(0, i).some((p) => p === 'docker' || p.startsWith('kubepods'))) return parts[i];
  }
  return undefined;
}

