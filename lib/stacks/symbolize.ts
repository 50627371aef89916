/**
 * Stack symbolization, the front of lib/stacks: an event's kernel and user
 * stacks to named frames. Kernel frames come from /proc/kallsyms
 * (./kernel.ts); user frames by build id, the process's mappings, the
 * files of neighbouring frames and JIT perf maps (./user.ts).
 */
import type { FileFrame } from '../core/decode';
import type { Frame } from './frame';
import { kernelFrames } from './kernel';
import { RawUserFrame, userStackFrames } from './user';

export { Frame } from './frame';
export type { FrameDetails } from './frame';
export { kernelFrames } from './kernel';
export { userFrames } from './user';

export interface SymbolizeOptions {
  /** Demangle C++ names (default true); false keeps them as the file has them. */
  demangle?: boolean;
}

/** Symbolized stacks, innermost frame first. */
export interface Stacks {
  kernel?: Frame[];
  user?: Frame[];
}

/**
 * What symbolize() reads of an event: a TraceEvent, or a record of an
 * EventBatch as `{ pid: batch.pid(i), ...batch.payload(i) }`.
 */
export interface StackSource {
  pid: number;
  kernelStack?: bigint[];
  userStack?: bigint[];
  userStackFiles?: Array<FileFrame | undefined>;
  callerAtEntry?: { kernel: boolean; user: boolean };
}

/** An event's user stack as the symbolizer takes it: each frame's address and, where the kernel gave one, its file. */
export function rawUserStack(ev: StackSource): RawUserFrame[] | undefined {
  const addrs = ev.userStack;
  if (!addrs) return undefined;
  const files = ev.userStackFiles;
  return addrs.map((address, i) => (files?.[i] ? { address, file: files[i] } : { address }));
}

/**
 * The symbolized stacks of an event recorded with the `stack` option:
 * `kernel` innermost frame first, `user` likewise. Absent stacks stay absent.
 * User frames are named also after their process has exited: by the build
 * id the kernel recorded, or the mappings remembered while it lived.
 */
export function symbolize(ev: StackSource, opts: SymbolizeOptions = {}): Stacks {
  const out: Stacks = {};
  const caller = ev.callerAtEntry;
  if (ev.kernelStack) out.kernel = kernelFrames(ev.kernelStack, caller?.kernel ? 1 : -1);
  const raw = rawUserStack(ev);
  if (raw) out.user = userStackFrames(ev.pid, raw, { demangle: opts.demangle, callerAt: caller?.user ? 1 : -1 });
  return out;
}
