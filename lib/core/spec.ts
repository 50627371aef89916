/**
 * What the attach/ modules hand the session to attach: the probe, its parts
 * (one per function or tracepoint of a pattern) and how to make the kernel's
 * attachments.
 */
import type { KprobeNodeError } from '../errors';
import type { ProbeConfig } from '../sys/abi';
import type { NativeTracer } from '../sys/native';
import type { ArgPlan } from './decode';
import type { ProbeKind } from './probe';

/**
 * One kernel attachment's worth of decoding: a probe over many functions (a
 * wildcard) has a part per function, each with its own probe id, config and
 * decoder, so events name the function they came from.
 */
export interface ProbePart {
  /** The name its events carry: `kprobe:vfs_read`. */
  name: string;
  /** What it covers: a function (`vfs_read`), tracepoint or syscall, as entry and return probes share it; default: the name. */
  key?: string;
  plans: ArgPlan[];
  config: Omit<ProbeConfig, 'args'>;
}

/** What to attach, as the attach/ modules describe it to the session. */
export interface AttachSpec {
  name: string;
  kind: ProbeKind;
  /** What was attached and how: `kprobe __x64_sys_openat`, `tracepoint syscalls:sys_enter_openat`. */
  strategy: string;
  /** One part, or one per function of a wildcard; the first one's plans describe the probe. */
  parts: ProbePart[];
  /** Makes the kernel attachments, given each part's cookie (its id and the slot's generation); returns the links. */
  attach(tracer: NativeTracer, cookies: number[]): number[];
  /** Things the user should know (no BTF, a clone attached instead). */
  warnings?: string[];
  /** The operation in words, for errors: `attach kprobe:vfs_read`. */
  describe: string;
  /** The error for ENOENT, when the caller can say what was not found. */
  notFound?: () => KprobeNodeError;
}
