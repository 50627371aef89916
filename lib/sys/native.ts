/**
 * The typed interface of the native addon (native/), and where it and the BPF
 * object are found. lib/core/session.ts reaches it through its Backend;
 * arguments are validated before they get here.
 */
import * as path from 'path';
import { UnsupportedError } from '../errors';
import { currentArch } from './arch';
import type { NativeBpfObjectClass } from './native-object';

export interface TracerOptions {
  maxProbes: number;
  ringBytes: number;
  wakeupBytes: number;
  /** Entries of the in-kernel count map. */
  maxCounts: number;
  /**
   * The programs to load with the object: kn_kprobe (kprobes and uprobes use
   * it), kn_tracepoint, kn_perf_event (CPU sampling). Each other one is loaded when first attached.
   */
  programs: BpfProgram[];
  /** Load on a native thread; the first method call waits for it (and throws its failure). */
  background?: boolean;
  /** Instead of loading the object, read the pinned probe whose maps are in this bpffs directory. */
  pinned?: string;
}

export type BpfProgram = 'kn_kprobe' | 'kn_tracepoint' | 'kn_perf_event';

/** Owns one loaded BPF object and every link attached through it. */
export interface NativeTracer {
  /** Returns a link id. */
  attachKprobe(fn: string, retprobe: boolean, cookie: number, offset: number): number;
  /**
   * One kprobe_multi link over many functions, `cookies[i]` for `fns[i]`.
   * Throws as a whole when the kernel lacks kprobe_multi or refuses any one function.
   */
  attachKprobeMulti(fns: string[], cookies: number[], retprobe: boolean): number;
  attachTracepoint(category: string, name: string, cookie: number): number;
  /** `pid` -1 traces every process. */
  attachUprobe(binary: string, offset: number, retprobe: boolean, pid: number, cookie: number): number;
  /**
   * A CPU-clock perf event on `cpu` (every task that runs there) running
   * kn_perf_event `rate` times a second (`frequency`) or every `rate` ns of CPU time.
   */
  attachPerfEvent(cpu: number, rate: number, frequency: boolean, cookie: number): number;
  detach(link: number): void;
  /**
   * Disables these links and hands their release to a kernel worker (through
   * an io_uring's file table), so that the kernel's wait for RCU grace periods
   * happens there; false, with nothing done, where io_uring is unavailable.
   */
  handOff(links: number[]): boolean;
  setConfig(probeId: number, config: Buffer): void;
  /**
   * Limits a probe with CFG_CGROUP to the cgroup v2 at `directory` and below;
   * null forgets it. The kernel keeps the cgroup, not a file descriptor.
   */
  setCgroup(probeId: number, directory: string | null): void;
  /** Records the kernel could not reserve for this probe so far. */
  lost(probeId: number): number;
  /** A probe's log2 histogram: HIST_BUCKETS counts. */
  hist(probeId: number): Float64Array;
  /** The sum of the values in a probe's histogram: the kernel's u64, wrapping (signed values sum as two's complement). */
  histSum(probeId: number): bigint;
  /** Zeroes a probe's histogram and its sum. */
  resetHist(probeId: number): void;
  /** The in-kernel counts of these probe ids, in one pass over the map: whole struct kn_count_key keys and their counts. */
  counts(probeIds: number[]): { keys: Buffer; values: Float64Array };
  clearCounts(probeIds: number[]): void;
  /**
   * Creates the stack maps of in-kernel stack counting, `entries` stacks each
   * (kernel stacks as addresses, user stacks as build id + file offset);
   * false when they exist already.
   */
  createStackMaps(entries: number): boolean;
  /** Frees the stack maps (once no probe counts stacks). */
  dropStackMaps(): void;
  /** A probe's stack counts: struct kn_stack_key each, the counts, and the last process counted under each. */
  stackCounts(probeId: number): { keys: Buffer; counts: Float64Array; pids: Uint32Array };
  clearStackCounts(probeId: number): void;
  /** The stacks of these ids in the kernel (`user` false) or user stack map; null for an id it does not hold. */
  stackTraces(user: boolean, ids: number[]): Array<Buffer | null>;
  /**
   * Calls `onBatch` with whole ring records (each behind its 8-byte ring
   * header) in the first `length` bytes of `batch` whenever some are ready,
   * draining every `drainMs` while they flow and sleeping until the next
   * one otherwise; `onError` when reading fails. `batch` is `scratch`,
   * reused for every batch that fits (the callback copies what it keeps).
   */
  start(onBatch: (batch: Buffer, length: number) => void, onError: (error: Error) => void, drainMs: number, scratch: Buffer): void;
  stop(): void;
  /** Whether the reader's event-loop handles keep the process alive. */
  ref(ref: boolean): void;
  /** Delivers what is in the ring now; returns the bytes delivered. */
  drain(): number;
  info(): { kprobeProgram?: number; tracepointProgram?: number; tracepointPrograms?: number[]; perfEventProgram?: number; links?: number };
  /** Waits for a background load; throws what made it fail. */
  ready(): void;
  /** Detaches every link and frees everything; idempotent. */
  close(): void;
  /** Pins the ring, configs and lost maps and every link under `dir` (bpffs), so they outlive the process. */
  pin(dir: string): void;
}

export interface StructLayout {
  [member: string]: number;
  size: number;
}

export interface NativeBinding {
  Tracer: new (objectPath: string, options: TracerOptions) => NativeTracer;
  /** A user's own BPF object (lib/object/). */
  BpfObject: NativeBpfObjectClass;
  layout: Record<'step' | 'arg' | 'filter' | 'config' | 'buckets' | 'record' | 'count_key' | 'stack_key' | 'stack_count', StructLayout> & {
    constants: Record<string, number>;
  };
  /** Whether programs of `progType` may call helper `helperId` (libbpf_probe_bpf_helper). */
  probeHelper(progType: number, helperId: number): boolean;
  /** Whether the kernel can create a map of `mapType` (libbpf_probe_bpf_map_type). */
  probeMapType(mapType: number): boolean;
  /** Whether the verifier accepts a global BPF function with a pointer-to-struct argument. */
  probeGlobalFuncPointerArgs(): boolean;
  libbpfVersion: string;
}

/** The errors the addon throws carry these fields. */
export interface NativeError extends Error {
  op: string;
  errno: number;
  code: string;
  log: string;
}

export function isNativeError(e: unknown): e is NativeError {
  // Duck-typed: an Error from another realm (a vm context, jest's sandbox) fails instanceof.
  const n = e as Partial<NativeError> | null;
  return typeof n === 'object' && n !== null && typeof n.message === 'string' && typeof n.op === 'string' && typeof n.errno === 'number';
}

/** The package root: three levels up from dist/lib/sys. */
export const packageRoot = path.resolve(__dirname, '..', '..', '..');

/** The BPF object built for this architecture (the Makefile builds one per architecture). */
export const bpfObjectPath = path.join(packageRoot, 'dist', 'bpf', process.arch, 'kprobe_node.bpf.o');

let binding: NativeBinding | undefined;

/** Loads the addon once: a local build first, then the prebuilds (node-gyp-build). */
export function native(): NativeBinding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new UnsupportedError('linux', `kprobe-node traces the Linux kernel; this is ${process.platform}`);
  }
  currentArch(); // before loading an addon that may exist and then read the wrong registers

  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const load = require('node-gyp-build') as (dir: string) => NativeBinding;
  try {
    binding = load(packageRoot);
  } catch (e) {
    throw new UnsupportedError(
      'addon',
      `the kprobe-node native addon could not be loaded for Node ${process.version} on linux-${process.arch}: ` +
        `${(e as Error).message.split('\n')[0]}. No prebuilt addon fits here, so it is built from source at install, ` +
        'which npm does only once the package\'s install script is approved (and never with --ignore-scripts): ' +
        'npm install-scripts approve kprobe-node && npm rebuild kprobe-node ' +
        '(building needs g++, make, python3, libbpf-dev, libelf-dev and zlib1g-dev)',
    );
  }
  return binding;
}
