/**
 * Pinned probes (opt-in): a probe that stays attached after its process
 * exits, kept in bpffs under /sys/fs/bpf/kprobe-node/<name>/:
 *
 *   link-<n>     the kernel links (they hold the programs, the programs hold the maps)
 *   events       the probe's ring buffer
 *   configs      the probe configs (its filters and fetch programs)
 *   lost         the per-probe lost counters
 *
 * and what it traces (the target and options it was made from) in
 * /run/kprobe-node/<name>.json: bpffs holds only BPF objects and directories.
 * Both are gone after a reboot.
 *
 * A pinned probe gets a BPF object of its own (not the process's shared one),
 * so that nothing else in the process writes to its ring or reuses its id.
 * Another process reads it by opening those maps by path and recompiling the
 * same target and options against the same kernel: that gives the same probe
 * ids and the same decoders. One reader at a time: readers share the ring's
 * read position.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ProbeOptions, Target, attachTarget, checkSignal, formatTarget, onReturn, parseTarget } from './attach';
import { closeOnAbort } from './core/abort';
import type { Probe } from './core/probe';
import { Session } from './core/session';
import { KprobeNodeError, NotFoundError, OptionError, SystemError, UnsupportedError } from './errors';
import { cgroupDirectory } from './sys/cgroups';
import { fsError } from './sys/errno';
import { checkPrivileges } from './sys/features';

export const BPFFS = '/sys/fs/bpf';
export const PIN_ROOT = path.join(BPFFS, 'kprobe-node');
const BPF_FS_MAGIC = 0xcafe4a11;
/** Where the description of each pinned probe is kept. */
export const INFO_ROOT = '/run/kprobe-node';

/** What a pinned probe's description holds. */
export interface PinnedProbeInfo {
  name: string;
  /** The target as given: `syscall:openat`, `tracepoint:sched:sched_switch`, `uprobe:libc:malloc`. */
  target: string;
  /** Return probe (for function and syscall targets). */
  ret: boolean;
  options: PinOptions;
  /** The probe's name and how it was attached (`tracepoint syscalls:sys_enter_openat`). */
  probe: string;
  strategy: string;
  /** ISO time it was pinned, and by which process. */
  created: string;
  pid: number;
  /** Links pinned when it was made, and how many are still there. */
  links: number;
  linksPinned?: number;
}

/** The options a pinned probe keeps: those of ProbeOptions that can be written as JSON (a cgroup is kept as its directory). */
export type PinOptions = Pick<ProbeOptions, 'pid' | 'tid' | 'uid' | 'comm' | 'cgroup' | 'args' | 'filter' | 'stringSize' | 'stack'>;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new OptionError(`a pin name is 1-64 letters, digits, '_', '.' or '-' (not starting with '.' or '-'), got ${JSON.stringify(name)}`);
  }
  return name;
}

/** The directory of a pinned probe. */
export function pinDir(name: string): string {
  return path.join(PIN_ROOT, checkName(name));
}

function infoPath(name: string): string {
  return path.join(INFO_ROOT, `${checkName(name)}.json`);
}

function isBpffs(dir: string): boolean {
  try {
    return fs.statfsSync(dir).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Mounts bpffs at /sys/fs/bpf when it is not there (root only). */
function ensureBpffs(): void {
  if (isBpffs(BPFFS)) return;
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { stdio: 'pipe' });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new UnsupportedError('bpffs', `pinning needs bpffs at ${BPFFS}; it is not mounted and mounting it failed: ${why}`);
  }
  if (!isBpffs(BPFFS)) throw new UnsupportedError('bpffs', `pinning needs bpffs at ${BPFFS}, and ${BPFFS} is not one`);
}

/**
 * Attaches `target` (as the CLI names it: `syscall:openat`, `tracepoint:cat:name`,
 * `uprobe:/bin/bash:readline`, a kernel function) and pins it as `name`: it
 * keeps tracing after this process exits, until `unpin(name)`. The returned
 * Probe delivers events here too; closing it stops reading, not tracing.
 */
export function pinProbe(name: string, target: string | Target, options: PinOptions & { ret?: boolean; signal?: AbortSignal } = {}): Probe {
  const dir = pinDir(name);
  const { ret = false, signal: given, ...opts } = options;
  const signal = checkSignal(given);
  signal?.throwIfAborted();
  if (typeof target === 'string' && target === '') throw new OptionError('pinProbe needs a target, e.g. syscall:openat');
  const t = typeof target === 'string' ? parseTarget(target, ret) : target;
  checkPrivileges();
  ensureBpffs();
  if (fs.existsSync(dir)) throw new OptionError(`a probe is already pinned as ${name} (${dir}); unpin it first: kprobe-node unpin ${name}`);
  // Kept as the directory: an id or 'self' would name another cgroup in the process that reads it.
  if (opts.cgroup !== undefined) opts.cgroup = cgroupDirectory(opts.cgroup);
  const session = Session.separate('pinned');
  const probe = attachTarget(t, opts, { session });
  try {
    fs.mkdirSync(dir, { recursive: true });
    session.pin(dir);
    const info: PinnedProbeInfo = {
      name,
      target: formatTarget(t),
      ret: onReturn(t),
      options: JSON.parse(JSON.stringify(opts)) as PinOptions,
      probe: probe.name,
      strategy: probe.strategy,
      created: new Date().toISOString(),
      pid: process.pid,
      links: fs.readdirSync(dir).filter((f) => f.startsWith('link-')).length,
    };
    // What a probe traces (its filters, its arguments) is for root only, like the pinned maps.
    fs.mkdirSync(INFO_ROOT, { recursive: true, mode: 0o700 });
    fs.chmodSync(INFO_ROOT, 0o700); // made earlier, with another mode
    fs.writeFileSync(infoPath(name), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    probe.close();
    removePins(dir);
    throw fsError(e, `pin ${name} under ${dir}`);
  }
  closeOnAbort(signal, probe);
  return probe;
}

function readInfo(name: string): PinnedProbeInfo {
  const dir = pinDir(name);
  let text: string;
  try {
    if (!fs.existsSync(dir)) throw Object.assign(new Error('no pins'), { code: 'ENOENT' });
    text = fs.readFileSync(infoPath(name), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`no probe pinned as ${name} (${dir})`, listPinned().map((p) => p.name));
    }
    throw fsError(e, `read ${dir}`);
  }
  const info = JSON.parse(text) as PinnedProbeInfo;
  info.linksPinned = fs.readdirSync(dir).filter((f) => f.startsWith('link-')).length;
  return info;
}

/** The pinned probes, with what they trace. */
export function listPinned(): PinnedProbeInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(PIN_ROOT);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fsError(e, `list ${PIN_ROOT}`);
  }
  const out: PinnedProbeInfo[] = [];
  for (const n of names.sort()) {
    if (!NAME.test(n)) continue;
    try {
      out.push(readInfo(n));
    } catch {
      // A directory being made or removed right now.
    }
  }
  return out;
}

/**
 * Reads the events of the probe pinned as `name`, from this process. Events
 * the ring still holds come first. Closing the Probe stops reading; the
 * probe stays pinned.
 */
export function openPinned(name: string, opts: { signal?: AbortSignal } = {}): Probe {
  const signal = checkSignal(opts.signal);
  signal?.throwIfAborted();
  const info = readInfo(name);
  checkPrivileges();
  let session: Session;
  try {
    session = Session.separate('reader', pinDir(name));
  } catch (e) {
    const errno = (e as KprobeNodeError).errno;
    if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') {
      throw new SystemError(`${name} is being read by another process, and a pinned probe has one reader at a time (readers share its ring's read position)`, { errno });
    }
    throw e;
  }
  const probe = attachTarget(parseTarget(info.target, info.ret), info.options, { session });
  closeOnAbort(signal, probe);
  return probe;
}

/** Removes the probe pinned as `name`: its links go, so it stops tracing. */
export function unpin(name: string): void {
  const dir = pinDir(name);
  if (!fs.existsSync(dir)) throw new NotFoundError(`no probe pinned as ${name} (${dir})`, listPinned().map((p) => p.name));
  try {
    removePins(dir);
    fs.rmSync(infoPath(name), { force: true });
  } catch (e) {
    throw fsError(e, `unpin ${name} (${dir})`);
  }
}

function removePins(dir: string): void {
  if (!fs.existsSync(dir)) return;
  // Links first, so nothing writes to the ring while the rest goes.
  const files = fs.readdirSync(dir).sort((a, b) => Number(b.startsWith('link-')) - Number(a.startsWith('link-')));
  for (const f of files) fs.unlinkSync(path.join(dir, f));
  fs.rmdirSync(dir);
}
