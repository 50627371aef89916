/**
 * What can be traced here: kernel functions (kprobes), tracepoints and
 * syscalls, optionally filtered with a glob pattern.
 */
import { listSyscalls } from '../attach/syscall';
import { KernelFunction, probeableFunctions } from '../sys/kallsyms';
import { globMatcher } from '../sys/glob';
import { listTracepoints, listTracepointsOrNone } from '../sys/tracefs';

import type { TargetKind } from '../attach/target';

export type { KernelFunction } from '../sys/kallsyms';

/** One thing `kprobe-node list` shows. */
export interface ListedProbe {
  kind: Extract<TargetKind, 'kprobe' | 'tracepoint' | 'syscall'>;
  /** The function (`vfs_read`), the tracepoint (`sched:sched_switch`) or the syscall (`openat`). */
  name: string;
  /** The module of a kernel function in one. */
  module?: string;
  /** How to name it to the CLI and parseTarget(): `vfs_read`, `tracepoint:sched:sched_switch`, `syscall:openat`. */
  target: string;
}

/**
 * Kernel functions a kprobe can be attached to: /proc/kallsyms text symbols
 * (the kernel and its loaded modules), without the kprobe blacklist, and
 * limited to tracefs's available_filter_functions where readable. With a
 * glob `pattern` (`fuse_*`, `*sync*`), only those that match.
 */
export function listFunctions(pattern?: string): KernelFunction[] {
  return probeableFunctions(pattern);
}

export { listSyscalls } from '../attach/syscall';

const PREFIXES: Record<string, ListedProbe['kind']> = { kprobe: 'kprobe', k: 'kprobe', tracepoint: 'tracepoint', t: 'tracepoint', syscall: 'syscall', s: 'syscall' };

/**
 * Everything that can be traced, or what matches `pattern`: `fuse_*`
 * (functions, and syscalls and tracepoints of that name), `kprobe:vfs_*`,
 * `tracepoint:sched:*`, `sched:*`, `syscall:*sync*`.
 */
export function listProbes(pattern?: string): ListedProbe[] {
  let kinds: Array<ListedProbe['kind']> = ['kprobe', 'tracepoint', 'syscall'];
  let glob = pattern;
  const colon = pattern?.indexOf(':') ?? -1;
  if (pattern !== undefined && colon >= 0) {
    const kind = PREFIXES[pattern.slice(0, colon)];
    // `sched:*` alone reads as a tracepoint, as targets do.
    kinds = [kind ?? 'tracepoint'];
    if (kind) glob = pattern.slice(colon + 1);
  }
  const out: ListedProbe[] = [];
  if (kinds.includes('kprobe')) {
    for (const f of listFunctions(glob)) out.push({ kind: 'kprobe', name: f.name, ...(f.module ? { module: f.module } : {}), target: f.name });
  }
  if (kinds.includes('tracepoint')) {
    const match = glob === undefined ? () => true : globMatcher(glob);
    // A pattern without a category matches the tracepoint's name alone.
    const full = glob?.includes(':') ?? false;
    const all = kinds.length === 1 ? listTracepoints() : listTracepointsOrNone();
    for (const t of all) {
      const name = `${t.category}:${t.name}`;
      if (match(full ? name : t.name) || (!full && match(name))) out.push({ kind: 'tracepoint', name, target: `tracepoint:${name}` });
    }
  }
  if (kinds.includes('syscall')) {
    const match = glob === undefined ? () => true : globMatcher(glob);
    for (const s of listSyscalls()) if (match(s)) out.push({ kind: 'syscall', name: s, target: `syscall:${s}` });
  }
  return out;
}
