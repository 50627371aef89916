/** One symbolized stack frame, kernel or user. */

/** What else is known about a frame, besides where it is. */
export interface FrameDetails {
  /** Frame 1 of a stack taken at a function's entry: the caller, read where the call left its return address. */
  callerAtEntry?: boolean;
  /** JIT code, named through the process's perf map (`/tmp/perf-<pid>.map`). */
  jit?: boolean;
  /** The build id of the file the kernel found the frame in, when no file with that id was found. */
  buildId?: string;
  /** The frame's offset in its file, when the kernel recorded it by build id. */
  fileOffset?: number;
  /** The symbol as the file has it, when `symbol` is its demangled form. */
  mangled?: string;
}

export class Frame {
  /** Frame 1 read at a function's entry (see FrameDetails). */
  readonly callerAtEntry?: boolean;
  readonly jit?: boolean;
  readonly buildId?: string;
  readonly fileOffset?: number;
  readonly mangled?: string;

  constructor(
    /** The address from the stack (0 when the kernel kept only a build id and a file offset). */
    readonly address: bigint,
    /** The function containing it, when known (C++ names demangled unless asked otherwise). */
    readonly symbol?: string,
    /** Bytes from the function's start. */
    readonly offset?: number,
    /** Kernel frames: the module (`fuse`), none for the kernel proper. User frames: the mapped file, or the perf map of JIT code. */
    readonly module?: string,
    readonly kernel = false,
    details: FrameDetails = {},
  ) {
    for (const key of Object.keys(details) as Array<keyof FrameDetails>) {
      if (details[key] !== undefined) (this as Record<string, unknown>)[key] = details[key];
    }
  }

  /**
   * `do_syscall_64+0x82`, `fuse_open_common+0x12 [fuse]`, `main+0x2c (/usr/bin/app)`,
   * `0x7f12a0 (/lib/x.so)`, or `+0x1139 (build id 1937…)` for a file not found.
   */
  toString(): string {
    let where: string;
    if (this.symbol !== undefined) where = `${this.symbol}+0x${(this.offset ?? 0).toString(16)}`;
    else if (this.address === 0n && this.fileOffset !== undefined) where = `+0x${this.fileOffset.toString(16)}`;
    else where = `0x${this.address.toString(16)}`;
    const module = this.module ?? (this.buildId ? `build id ${this.buildId}` : undefined);
    if (!module) return where;
    return this.kernel ? `${where} [${module}]` : `${where} (${module})`;
  }
}
