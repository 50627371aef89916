/**
 * What to attach, named the way the CLI and the summary API take it:
 * `vfs_read`, `kprobe:fn`, `kretprobe:fn`, `tracepoint:cat:name`, `syscall:name`.
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
