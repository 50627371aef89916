/**
 * What to attach, named the way the CLI and the summary API take it:
 * `vfs_read`, `kprobe:fn`, `kretprobe:fn`, `tracepoint:cat:name`, `syscall:name`,
 * `uprobe:binary:symbol`.
 */
import { OptionError } from './errors';

/** One thing to attach, from a positional target or an option. */
export interface Target {
  kind: 'kprobe' | 'kretprobe' | 'tracepoint' | 'syscall';
  name: string;
  ret: boolean;
}

/** `fn`, `kprobe:fn`, `kretprobe:fn`, `tracepoint:cat:name`, `t:cat:name`, `syscall:name`. */
export function parseTarget(text: string, ret: boolean): Target {
  const colon = text.indexOf(':');
  const prefix = colon < 0 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (prefix) {
    case '':
      return { kind: ret ? 'kretprobe' : 'kprobe', name: text, ret };
    case 'kprobe':
    case 'k':
      return { kind: ret ? 'kretprobe' : 'kprobe', name: rest, ret };
    case 'kretprobe':
    case 'kr':
      return { kind: 'kretprobe', name: rest, ret: true };
    case 'tracepoint':
    case 't':
      return { kind: 'tracepoint', name: rest, ret: false };
    case 'syscall':
    case 's':
      return { kind: 'syscall', name: rest, ret };
    default:
      // `sched:sched_switch` alone reads as a tracepoint.
      if (/^[A-Za-z_]\w*:[A-Za-z_]\w*$/.test(text)) return { kind: 'tracepoint', name: text, ret: false };
      throw new OptionError(`unknown probe type "${prefix}" in "${text}" (use kprobe:, kretprobe:, tracepoint:, syscall:)`);
  }
}

/** A CLI target naming a user-space function. */
export interface UprobeTarget {
  kind: 'uprobe' | 'uretprobe';
  /** A path, a library (`libc`) or a program on PATH. */
  binary: string;
  /** `symbol`, `symbol+0x10` or `0x1234`. */
  location: string;
}

/**
 * `uprobe:/path/to/bin:symbol`, `uretprobe:libc:malloc` (short: `u:`, `ur:`);
 * `--ret` turns a uprobe into a uretprobe. Other targets give undefined.
 */
export function parseUprobeTarget(text: string, ret = false): UprobeTarget | undefined {
  const m = /^(uprobe|u|uretprobe|ur):(.*)$/.exec(text);
  if (!m) return undefined;
  const colon = m[2].lastIndexOf(':');
  if (colon <= 0 || colon === m[2].length - 1) {
    throw new OptionError(`a ${m[1]} target is ${m[1]}:<binary or library>:<symbol>, got "${text}"`);
  }
  const kind = m[1] === 'uretprobe' || m[1] === 'ur' || ret ? 'uretprobe' : 'uprobe';
  return { kind, binary: m[2].slice(0, colon), location: m[2].slice(colon + 1) };
}

export function isUprobe(t: Target | UprobeTarget): t is UprobeTarget {
  return t.kind === 'uprobe' || t.kind === 'uretprobe';
}

/** Any target the CLI takes: a uprobe's, or what parseTarget() reads. */
export function parseAnyTarget(text: string, ret: boolean): Target | UprobeTarget {
  return parseUprobeTarget(text, ret) ?? parseTarget(text, ret);
}
