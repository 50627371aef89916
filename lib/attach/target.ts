/**
 * What to attach, named the way the CLI, the summaries and pinning take it:
 * `vfs_read`, `kprobe:fn`, `kretprobe:fn`, `tracepoint:cat:name`,
 * `syscall:name`, `uprobe:binary:symbol`, `uretprobe:libc:malloc`,
 * `profile:hz:99`.
 */
import { OptionError } from '../errors';

/** One thing to attach. `formatTarget` writes it back as text that parseTarget reads. */
export type Target =
  | { kind: 'kprobe' | 'kretprobe'; name: string }
  | { kind: 'tracepoint'; name: string }
  | { kind: 'syscall'; name: string; ret: boolean }
  | UprobeTarget
  | ProfileTarget;

/**
 * CPU sampling on every CPU: `rate` times a second (`hz`), or every `rate`
 * seconds, milliseconds or microseconds of CPU time (`s`, `ms`, `us`).
 */
export interface ProfileTarget {
  kind: 'profile';
  unit: 'hz' | 's' | 'ms' | 'us';
  rate: number;
}

const PROFILE_UNITS: readonly string[] = ['hz', 's', 'ms', 'us'];

/** A user-space function. */
export interface UprobeTarget {
  kind: 'uprobe' | 'uretprobe';
  /** A path, a library (`libc`) or a program on PATH. */
  binary: string;
  /** `symbol`, `symbol+0x10` or `0x1234`. */
  location: string;
}

export type TargetKind = Target['kind'];

/**
 * Reads a target: `fn`, `kprobe:fn` (`k:`), `kretprobe:fn` (`kr:`),
 * `tracepoint:cat:name` (`t:`, or `cat:name` alone), `syscall:name` (`s:`),
 * `uprobe:binary:location` (`u:`), `uretprobe:binary:location` (`ur:`),
 * `profile:hz:99` (`p:`; also `profile:ms:10`).
 * `ret` turns a function, syscall or uprobe into its return.
 */
export function parseTarget(text: string, ret = false): Target {
  if (typeof text !== 'string' || text === '') throw new OptionError('a target must be a non-empty string, e.g. syscall:openat');
  const colon = text.indexOf(':');
  const prefix = colon < 0 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (prefix) {
    case '':
      return { kind: ret ? 'kretprobe' : 'kprobe', name: text };
    case 'kprobe':
    case 'k':
      return { kind: ret ? 'kretprobe' : 'kprobe', name: rest };
    case 'kretprobe':
    case 'kr':
      return { kind: 'kretprobe', name: rest };
    case 'tracepoint':
    case 't':
      return { kind: 'tracepoint', name: rest };
    case 'syscall':
    case 's':
      return { kind: 'syscall', name: rest, ret };
    case 'uprobe':
    case 'u':
    case 'uretprobe':
    case 'ur': {
      const at = rest.lastIndexOf(':');
      if (at <= 0 || at === rest.length - 1) throw new OptionError(`a ${prefix} target is ${prefix}:<binary or library>:<symbol>, got "${text}"`);
      const kind = prefix === 'uretprobe' || prefix === 'ur' || ret ? 'uretprobe' : 'uprobe';
      return { kind, binary: rest.slice(0, at), location: rest.slice(at + 1) };
    }
    case 'profile':
    case 'p': {
      const m = /^([a-z]+):(\d+)$/.exec(rest);
      if (!m || !PROFILE_UNITS.includes(m[1]) || Number(m[2]) < 1) {
        throw new OptionError(`a profile target is profile:hz:<samples a second> (or profile:s|ms|us:<period>), e.g. profile:hz:99, got "${text}"`);
      }
      return { kind: 'profile', unit: m[1] as ProfileTarget['unit'], rate: Number(m[2]) };
    }
    default:
      // `sched:sched_switch` alone reads as a tracepoint.
      if (/^[A-Za-z_]\w*:[A-Za-z_]\w*$/.test(text)) return { kind: 'tracepoint', name: text };
      throw new OptionError(`unknown probe type "${prefix}" in "${text}" (use kprobe:, kretprobe:, tracepoint:, syscall:, uprobe:, uretprobe:, profile:)`);
  }
}

/** The target as text: `kprobe:vfs_read`, `syscall:openat`; parseTarget(text, onReturn(t)) reads it back. */
export function formatTarget(t: Target): string {
  switch (t.kind) {
    case 'uprobe':
    case 'uretprobe':
      return `${t.kind}:${t.binary}:${t.location}`;
    case 'syscall':
      return `syscall:${t.name}`;
    case 'profile':
      return `profile:${t.unit}:${t.rate}`;
    default:
      return `${t.kind}:${t.name}`;
  }
}

/** Whether the target fires on returns (where `retval` is). */
export function onReturn(t: Target): boolean {
  return t.kind === 'kretprobe' || t.kind === 'uretprobe' || (t.kind === 'syscall' && t.ret);
}

/** The same target on the entry side (`false`) or the return side (`true`); tracepoints have no return. */
export function withReturn(t: Target, ret: boolean): Target {
  switch (t.kind) {
    case 'kprobe':
    case 'kretprobe':
      return { kind: ret ? 'kretprobe' : 'kprobe', name: t.name };
    case 'uprobe':
    case 'uretprobe':
      return { ...t, kind: ret ? 'uretprobe' : 'uprobe' };
    case 'syscall':
      return { ...t, ret };
    case 'tracepoint':
    case 'profile':
      return t;
  }
}

export function isUprobe(t: Target): t is UprobeTarget {
  return t.kind === 'uprobe' || t.kind === 'uretprobe';
}
