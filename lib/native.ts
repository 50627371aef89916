/**
 * The typed interface of the native addon (native/). Only lib/session.ts and
 * lib/features.ts talk to it; arguments are validated before they get here.
 */
import * as path from 'path';
import { UnsupportedError } from './errors';

export interface TracerOptions {
  maxProbes: number;
  ringBytes: number;
  wakeupBytes: number;
  batchBytes: number;
  /** Entries of the in-kernel count map. */
  maxCounts: number;
  /**
   * The programs to load with the object: kn_kprobe (kprobes and uprobes use
   * it), kn_tracepoint. Each other one is loaded when first attached.
   */
  programs: BpfProgram[];
  /** Load on a native thread; the first method call waits for it (and throws its failure). */
  background?: boolean;
  /** Instead of loading the object, read the pinned probe whose maps are in this bpffs directory. */
  pinned?: string;
}

export type BpfProgram = 'kn_kprobe' | 'kn_tracepoint';

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
  detach(link: number): void;
  /**
   * Disables these links and hands their release to a kernel worker (through
   * an io_uring's file table), so that the kernel's wait for RCU grace periods
   * happens there; false, with nothing done, where io_uring is unavailable.
   */
  handOff(links: number[]): boolean;
  setConfig(probeId: number, config: Buffer): void;
  /** Records the kernel could not reserve for this probe so far. */
  lost(probeId: number): number;
  /** A probe's log2 histogram: HIST_BUCKETS counts. */
  hist(probeId: number): Float64Array;
  resetHist(probeId: number): void;
  /** A probe's in-kernel counts: 16-byte keys (by comm, pid, value or string) and their counts. */
  counts(probeId: number): { keys: Buffer; values: Float64Array };
  clearCounts(probeId: number): void;
  /** Calls `onBatch` with a Buffer of whole records whenever some are ready. */
  start(onBatch: (batch: Buffer) => void, drainMs: number): void;
  stop(): void;
  /** Delivers what is in the ring now; returns the bytes delivered. */
  drain(): number;
  info(): { kprobeProgram?: number; tracepointProgram?: number; tracepointPrograms?: number[]; links?: number };
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
  layout: Record<'step' | 'arg' | 'filter' | 'config' | 'record' | 'count_key', StructLayout> & {
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

/** The package root: two levels up from dist/lib. */
export const packageRoot = path.resolve(__dirname, '..', '..');

export const bpfObjectPath = path.join(packageRoot, 'dist', 'bpf', 'kprobe_node.bpf.o');

let binding: NativeBinding | undefined;

/** Loads the addon once: a local build first, then the prebuilds (node-gyp-build). */
export function native(): NativeBinding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new UnsupportedError('linux', `kprobe-node traces the Linux kernel; this is ${process.platform}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const load = require('node-gyp-build') as (dir: string) => NativeBinding;
  try {
    binding = load(packageRoot);
  } catch (e) {
    throw new UnsupportedError(
      'addon',
      `the kprobe-node native addon could not be loaded for Node ${process.version} on ${process.arch}: ` +
        `${(e as Error).message.split('\n')[0]}. Rebuild it with: npm rebuild kprobe-node ` +
        '(needs libbpf-dev, libelf-dev, zlib1g-dev, make, g++ and python3)',
    );
  }
  return binding;
}
