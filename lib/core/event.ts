/**
 * One probe hit, as JavaScript sees it.
 */

/** Monotonic ns -> wall clock: both clocks read now, side by side. */
const wallOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** One probe hit. `time` is computed on first use. */
export class TraceEvent<Args = Record<string, unknown>, Ret = unknown> {
  constructor(
    /** The probe's name, e.g. `kprobe:vfs_fsync_range`, `tracepoint:syscalls:sys_enter_openat`. */
    readonly probe: string,
    // CLOCK_MONOTONIC ns in two 32-bit halves: a bigint is made only for those who ask.
    private readonly nsHigh: number,
    private readonly nsLow: number,
    readonly cpu: number,
    /** Process id (tgid). */
    readonly pid: number,
    /** Thread id. */
    readonly tid: number,
    readonly uid: number,
    readonly comm: string,
    readonly args: Args,
    /** The return value (return probes only). */
    readonly ret?: Ret,
    /** Names of the arguments the kernel could not read (their value is null). */
    readonly faults?: string[],
    /** Kernel stack, innermost frame first (probes with `stack`): return addresses. */
    readonly kernelStack?: bigint[],
    /** User stack, innermost frame first (probes with `stack`). */
    readonly userStack?: bigint[],
  ) {}

  /** CLOCK_MONOTONIC nanoseconds when the probe fired. */
  get ns(): bigint {
    return (BigInt(this.nsHigh) << 32n) | BigInt(this.nsLow);
  }

  /** Wall-clock time of the hit. */
  get time(): Date {
    return new Date(Number((this.ns + wallOffsetNs) / 1_000_000n));
  }

  toJSON(): Record<string, unknown> {
    return { ...this, ns: this.ns, time: this.time, nsHigh: undefined, nsLow: undefined };
  }
}
