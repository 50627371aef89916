/**
 * What a probe records and which events it keeps, checked before anything
 * touches the kernel.
 */
import { MAX_ARGS, MAX_STR } from '../sys/abi';
import type { CgroupSpec } from '../sys/cgroups';
import { OptionError } from '../errors';

/** What a probe records, and which events it keeps (filters run in the kernel). */
export interface ProbeOptions {
  /** Only this process (tgid), by its pid as this process sees it (in a container: the container's pids). */
  pid?: number;
  /** Only this thread, by its tid as this process sees it. */
  tid?: number;
  /** Only this user id. */
  uid?: number;
  /** Only tasks with this command name (first 15 characters). */
  comm?: string;
  /**
   * Only tasks in this cgroup (v2) or below it, tested in the kernel: `'self'`
   * (this process's: its container, its systemd service), a directory under
   * the cgroup2 mount, a path as /proc/<pid>/cgroup shows it
   * (`/system.slice/nginx.service`), or a cgroup id (`event.cgroupId`).
   */
  cgroup?: CgroupSpec;
  /** Closes the probe when the signal aborts; attaching with an aborted signal throws its reason and attaches nothing. */
  signal?: AbortSignal;
  /**
   * Argument expressions, at most 8: `file->f_path.dentry->d_name.name`,
   * `size=count:u32`, `(struct sock *)arg0`. Default: every parameter by its type.
   */
  args?: readonly string[];
  /** Kept only when this holds, tested in the kernel: `flags & 0x40 && count > 4096 && comm == "bash"`. */
  filter?: string;
  /** Longest string fetched for one argument: 1..4096, default 256. */
  stringSize?: number;
  /** Record the stack with each event: `event.kernelStack`, `event.userStack`. */
  stack?: 'kernel' | 'user' | 'both';
  /**
   * Drop the events of this process (the one that loaded the BPF programs),
   * in the kernel: a tracer that should not see its own work. The command line sets it
   * unless --include-self is given.
   */
  excludeSelf?: boolean;
  /**
   * Pin the probe under this name (/sys/fs/bpf/kprobe-node/<name>): it keeps
   * tracing after this process exits, until `unpin(name)` (see pinProbe).
   */
  pin?: string;
}

export interface SyscallOptions extends ProbeOptions {
  /** Trace the return (`sys_exit`) instead of the entry. */
  ret?: boolean;
}

/** Options of kprobes that may name many functions (`vfs_*`). */
export interface KprobeOptions extends ProbeOptions {
  /** Called as functions are attached, `done` of `total` (wildcards attach one by one where kprobe_multi is missing). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Options of a uprobe. `pid` also limits the attachment to that process, and
 * a library named without a path is then looked up in its /proc/<pid>/maps.
 */
export type UprobeOptions = ProbeOptions;

/** Checks options before anything touches the kernel. */
export function checkOptions<O extends ProbeOptions>(opts: O | undefined): O {
  const o = opts ?? ({} as O);
  if (typeof o !== 'object') throw new OptionError('options must be an object');
  for (const key of ['pid', 'tid', 'uid'] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new OptionError(`${key} must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (o.comm !== undefined) {
    if (typeof o.comm !== 'string' || o.comm.length === 0) throw new OptionError('comm must be a non-empty string');
    if (o.comm.length > 15) throw new OptionError(`comm is at most 15 characters (the kernel's TASK_COMM_LEN), got "${o.comm}"`);
  }
  if (o.cgroup !== undefined) {
    const c = o.cgroup;
    const ok = typeof c === 'string' ? c !== '' : typeof c === 'bigint' ? c > 0n : typeof c === 'number' && Number.isSafeInteger(c) && c > 0;
    if (!ok) throw new OptionError(`cgroup must be 'self', a cgroup path or a cgroup id, got ${typeof c === 'bigint' ? `${c}n` : JSON.stringify(c)}`);
  }
  checkSignal(o.signal);
  if (o.args !== undefined && (!Array.isArray(o.args) || o.args.some((a) => typeof a !== 'string'))) {
    throw new OptionError('args must be an array of expression strings');
  }
  if (o.args && o.args.length > MAX_ARGS) throw new OptionError(`at most ${MAX_ARGS} argument expressions per probe, got ${o.args.length}`);
  if (o.filter !== undefined && typeof o.filter !== 'string') throw new OptionError('filter must be a string');
  if (o.stack !== undefined && !['kernel', 'user', 'both'].includes(o.stack)) {
    throw new OptionError(`stack must be 'kernel', 'user' or 'both', got ${JSON.stringify(o.stack)}`);
  }
  checkStringSize(o.stringSize);
  if (o.excludeSelf !== undefined && typeof o.excludeSelf !== 'boolean') throw new OptionError('excludeSelf must be true or false');
  const onProgress = (o as KprobeOptions).onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new OptionError('onProgress must be a function');
  return o;
}

/** Checks a longest string length; `name` is what the caller calls it (the CLI: --string-size). */
export function checkStringSize(v: number | undefined, name = 'stringSize'): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > MAX_STR)) {
    throw new OptionError(`${name} must be an integer from 1 to ${MAX_STR}, got ${String(v)}`);
  }
}

/** An AbortSignal, or nothing; duck-typed, so that a signal from another realm (a vm context) passes. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as Partial<AbortSignal> | null;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new OptionError('signal must be an AbortSignal (new AbortController().signal)');
  }
  return signal as AbortSignal;
}

/** Checks a name against what its kind allows, before it reaches a file path or the kernel. */
export function checkName(what: string, name: unknown, pattern: RegExp, example: string): string {
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new OptionError(`${what} must be a name like ${example}, got ${JSON.stringify(name)}`);
  }
  return name;
}

export const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;
/** A function name pattern: the symbol characters and the wildcards `*`, `?`, `[...]`. */
export const GLOB_SYMBOL = /^[A-Za-z0-9_.*?[\]!-]+$/;
export const TRACEPOINT = /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/;
/** A tracepoint pattern: `category:name` with wildcards in either part. */
export const TRACEPOINT_GLOB = /^[A-Za-z0-9_*?[\]!-]+:[A-Za-z0-9_*?[\]!-]+$/;
export const SYSCALL = /^[a-z_][a-z0-9_]*$/;
