/**
 * The public ways to attach: kernel functions, syscalls, tracepoints and
 * user-space functions, each a thin door to lib/attach's one dispatcher.
 * `{ pin }` hands the probe to lib/pin.ts, which attaches it in a session of
 * its own.
 */
import { KprobeOptions, ProbeOptions, SyscallOptions, Target, UprobeOptions, attachTarget, checkOptions, checkSignal } from './attach';
import type { ArgsOf, RetOf } from './attach/typed-args';
import { closeOnAbort } from './core/abort';
import type { TraceEvent } from './core/event';
import type { Probe } from './core/probe';
import { Session } from './core/session';
import { OptionError } from './errors';
import { pinProbe } from './pin';
import { setDebugDirectories } from './stacks/buildids';
import { setMaxStacks } from './summary';

function attach(target: Target, opts: (ProbeOptions & KprobeOptions) | undefined, ret = false): Probe {
  const signal = checkSignal(opts?.signal);
  signal?.throwIfAborted();
  const pin = opts?.pin;
  if (pin === undefined) {
    const probe = attachTarget(target, opts);
    closeOnAbort(signal, probe);
    return probe;
  }
  const { pin: _pin, ...rest } = checkOptions(opts);
  return pinProbe(pin, target, { ...rest, ret, signal });
}

/** A probe whose events' `args` are typed from the function `F` and the expressions `A` (see KernelFunctions). */
export type TypedProbe<F extends string, A extends readonly string[] | undefined, R = unknown> = Probe<TraceEvent<ArgsOf<F, A>, R>>;

/**
 * Traces every call of the kernel function `fn` (or of every function a
 * pattern like `vfs_*` matches); events carry its arguments by name. With
 * `kprobe-node types --kernel <fn>` declarations, `args` is typed; with
 * `args` written in the call, its keys are the labels.
 */
export function attachKprobe<F extends string>(fn: F, opts?: KprobeOptions & { args?: undefined }): TypedProbe<F, undefined>;
export function attachKprobe<F extends string, const A extends readonly string[]>(fn: F, opts: KprobeOptions & { args: A }): TypedProbe<F, A>;
export function attachKprobe<F extends string = string>(fn: F, opts?: KprobeOptions): Probe;
export function attachKprobe(fn: string, opts?: KprobeOptions): Probe {
  return attach({ kind: 'kprobe', name: fn }, opts);
}

/** Traces every return from the kernel function `fn`; events carry `ret`, typed with `kprobe-node types --kernel <fn>` declarations. */
export function attachKretprobe<F extends string>(fn: F, opts?: KprobeOptions & { args?: undefined }): TypedProbe<F, readonly [], RetOf<F>>;
export function attachKretprobe<F extends string, const A extends readonly string[]>(fn: F, opts: KprobeOptions & { args: A }): TypedProbe<F, A, RetOf<F>>;
export function attachKretprobe<F extends string = string>(fn: F, opts?: KprobeOptions): Probe;
export function attachKretprobe(fn: string, opts?: KprobeOptions): Probe {
  return attach({ kind: 'kretprobe', name: fn }, opts, true);
}

/**
 * Traces a system call by name (`openat`), with its arguments by name. Uses a
 * kprobe on the syscall's function where the kernel has kprobes, and the
 * `syscalls:sys_enter_<name>` / `sys_exit_<name>` tracepoints otherwise.
 */
export function attachSyscall<const A extends readonly string[] | undefined = undefined>(name: string, opts?: SyscallOptions & { args?: A }): TypedProbe<string, A> {
  const ret = opts?.ret === true;
  return attach({ kind: 'syscall', name, ret }, opts, ret) as TypedProbe<string, A>;
}

/** Traces a tracepoint, `category:name` (e.g. `sched:sched_process_exec`); events carry its fields. */
export function attachTracepoint<const A extends readonly string[] | undefined = undefined>(tracepoint: string, opts?: ProbeOptions & { args?: A }): TypedProbe<string, A> {
  return attach({ kind: 'tracepoint', name: tracepoint }, opts) as TypedProbe<string, A>;
}

/**
 * Traces calls of a user-space function: `attachUprobe('/usr/bin/bash', 'readline')`,
 * `attachUprobe('libc', 'malloc', { pid })`. Events carry `arg0`..`arg5`
 * (or what `args` asks for, e.g. `arg0:ustring`).
 */
export function attachUprobe<const A extends readonly string[] | undefined = undefined>(target: string, location: string, opts?: UprobeOptions & { args?: A }): TypedProbe<string, A> {
  return attach({ kind: 'uprobe', binary: target, location }, opts) as TypedProbe<string, A>;
}

/** Traces returns from a user-space function; events carry the return value as `ret`. */
export function attachUretprobe<const A extends readonly string[] | undefined = undefined>(target: string, location: string, opts?: UprobeOptions & { args?: A }): TypedProbe<string, A> {
  return attach({ kind: 'uretprobe', binary: target, location }, opts, true) as TypedProbe<string, A>;
}

/** Sizes of the in-kernel maps; set before the first probe is attached. */
export interface AggregateConfig {
  /** Entries of the count map shared by every counting probe (default 10240, env KPROBE_NODE_MAX_COUNTS). */
  maxCounts?: number;
  /**
   * Bytes of the ring buffer all probes share: a power of two, 4 KiB..1 GiB
   * (default 8 MiB, env KPROBE_NODE_RING_BYTES). It is mapped into the
   * process twice, so it costs twice its size in memory; larger rides out
   * longer bursts without loss.
   */
  ringBytes?: number;
  /**
   * How often, in ms, the ring buffer is drained while events flow (default
   * 10; 1..1000). Longer batches more events per wake-up; an idle probe
   * costs nothing either way: the first event after a quiet spell wakes the
   * reader at once.
   */
  drainMs?: number;
  /**
   * Stacks the kernel keeps for countStacks() (default 8192, env
   * KPROBE_NODE_MAX_STACKS): the stack maps are made with the first stack
   * counter and freed after the last; an entry holds 127 frames, 1 KiB for a
   * kernel stack and 4 KiB for a user stack. More entries also mean fewer
   * stacks lost to two sharing a slot. Takes effect when they are next made.
   */
  maxStacks?: number;
  /**
   * Directories of separate debug files, found by build id as
   * `<dir>/.build-id/ab/cdef….debug` (default ['/usr/lib/debug'], env
   * KPROBE_NODE_DEBUG_DIRS, colon-separated): they name the frames of
   * stripped binaries. Takes effect at once.
   */
  debugDirectories?: string[];
}

/**
 * Checks map sizes and the drain interval as configure() takes them; `name`
 * says what the caller calls each one (the command line: --max-counts,
 * --ring-size), so that the message is in its words.
 */
export function checkConfig(config: AggregateConfig, name: (key: keyof AggregateConfig) => string = (key) => key): void {
  const n = config.maxCounts;
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 1 << 24)) {
    throw new OptionError(`${name('maxCounts')} must be an integer from 1 to ${1 << 24}, got ${String(n)}`);
  }
  const r = config.ringBytes;
  if (r !== undefined && (!Number.isInteger(r) || r < 4096 || r > 1 << 30 || (r & (r - 1)) !== 0)) {
    throw new OptionError(`${name('ringBytes')} must be a power of two from 4096 to ${1 << 30}, got ${String(r)}`);
  }
  const d = config.drainMs;
  if (d !== undefined && (!Number.isInteger(d) || d < 1 || d > 1000)) throw new OptionError(`${name('drainMs')} must be an integer from 1 to 1000, got ${String(d)}`);
  const st = config.maxStacks;
  if (st !== undefined && (!Number.isInteger(st) || st < 1 || st > 1 << 20)) throw new OptionError(`${name('maxStacks')} must be an integer from 1 to ${1 << 20}, got ${String(st)}`);
  const dirs = config.debugDirectories;
  if (dirs !== undefined && (!Array.isArray(dirs) || dirs.some((x) => typeof x !== 'string' || x === ''))) {
    throw new OptionError(`${name('debugDirectories')} must be an array of directory paths`);
  }
}

/** Sets map sizes, the drain interval and where stacks are symbolized from, for this process; throws OptionError once a probe is attached. */
export function configure(config: AggregateConfig): void {
  checkConfig(config);
  if (config.maxStacks !== undefined) setMaxStacks(config.maxStacks);
  if (config.debugDirectories !== undefined) setDebugDirectories(config.debugDirectories);
  if (config.maxCounts !== undefined) Session.configure({ maxCounts: config.maxCounts });
  if (config.ringBytes !== undefined) Session.configure({ ringBytes: config.ringBytes });
  if (config.drainMs !== undefined) Session.configure({ drainMs: config.drainMs });
}
