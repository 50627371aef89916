/**
 * Events as JavaScript sees them. A batch from the ring buffer is one Buffer
 * holding many records (each behind its 8-byte ring header); nothing is
 * decoded until it is read:
 *
 *   - TraceEvent: one record; each field is read from the batch on first use.
 *   - EventBatch: the records of one probe in one batch, read by index with
 *     no object per event (`probe.on('batch', ...)`), for the highest rates.
 */
import { layout } from '../sys/abi';
import { containerOf } from '../sys/cgroups';
import { ArgPlan, FileFrame, Payload, RecordDecoder, recordComm } from './decode';

const R = layout.record;
/** A ring record header's length bits (the two high bits are the kernel's busy and discard flags). */
const LEN_MASK = 0x3fffffff;
/** Ring records are preceded by an 8-byte header: a u32 length with flags, and a page offset. */
export const RING_HEADER = 8;

/** Monotonic ns -> wall clock: both clocks read now, side by side. */
const wallOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
/** The same offset in ms, as a double: enough for a Date. */
const wallOffsetMs = Number(wallOffsetNs / 1_000_000n);

/** Where the record at `at` ends: its ring header holds its length. */
function recordEnd(buf: Buffer, at: number): number {
  return at + (buf.readUInt32LE(at - RING_HEADER) & LEN_MASK);
}

/** CLOCK_MONOTONIC ns of the record at `at`, as a double (exact below 2^53 ns, some 104 days of uptime). */
export function recordNsNumber(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + R.ns + 4) * 4294967296 + buf.readUInt32LE(at + R.ns);
}

/** Wall-clock nanoseconds of a CLOCK_MONOTONIC ns value (the offset between the clocks is known to a millisecond). */
export function wallNs(monotonicNs: bigint): bigint {
  return monotonicNs + wallOffsetNs;
}

/** The cgroup id of the record at `at`, as a number (ids are kernfs inode numbers, far below 2^53). */
function recordCgroup(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + R.cgroup_id + 4) * 4294967296 + buf.readUInt32LE(at + R.cgroup_id);
}

/** Wall-clock milliseconds of a CLOCK_MONOTONIC ns value. */
export function wallMs(monotonicNs: number): number {
  return Math.floor(monotonicNs / 1e6) + wallOffsetMs;
}

/**
 * One probe hit. Its fields are read from the batch it came in when first
 * used; an event kept after its listener returns keeps that batch's memory
 * (the async iterator copies each event it queues out of its batch).
 */
export class TraceEvent<Args = Record<string, unknown>, Ret = unknown> {
  #buf: Buffer;
  #at: number;
  readonly #decoder: RecordDecoder;
  #payload?: Payload;

  /** @internal Events come from probes. */
  constructor(buf: Buffer, at: number, decoder: RecordDecoder) {
    this.#buf = buf;
    this.#at = at;
    this.#decoder = decoder;
  }

  /** The probe's name, e.g. `kprobe:vfs_fsync_range`, `tracepoint:syscalls:sys_enter_openat`. */
  get probe(): string {
    return this.#decoder.probe;
  }

  get cpu(): number {
    return this.#buf.readUInt16LE(this.#at + R.cpu);
  }

  /**
   * Process id (tgid) as this process sees it: in a container, the
   * container's pid; 0 for a process outside this process's PID namespace
   * (as the kernel shows such processes), whose pid is in `hostPid`.
   */
  get pid(): number {
    return this.#buf.readUInt32LE(this.#at + R.pid);
  }

  /** Thread id as this process sees it (0 outside its PID namespace). */
  get tid(): number {
    return this.#buf.readUInt32LE(this.#at + R.tid);
  }

  /** Process id in the host's (the initial) PID namespace; the same as `pid` outside containers. */
  get hostPid(): number {
    return this.#buf.readUInt32LE(this.#at + R.host_pid);
  }

  /** Thread id in the host's PID namespace. */
  get hostTid(): number {
    return this.#buf.readUInt32LE(this.#at + R.host_tid);
  }

  /** The task's cgroup v2 id: the inode number of its cgroup's directory. */
  get cgroupId(): number {
    return recordCgroup(this.#buf, this.#at);
  }

  /** The container the task runs in, when its cgroup's path names one (`docker-<id>.scope`...): the 64-hex id. */
  get containerId(): string | undefined {
    return containerOf(this.cgroupId);
  }

  get uid(): number {
    return this.#buf.readUInt32LE(this.#at + R.uid);
  }

  get comm(): string {
    return recordComm(this.#buf, this.#at);
  }

  /** CLOCK_MONOTONIC nanoseconds when the probe fired. */
  get ns(): bigint {
    return this.#buf.readBigUInt64LE(this.#at + R.ns);
  }

  /** Wall-clock time of the hit. */
  get time(): Date {
    return new Date(wallMs(recordNsNumber(this.#buf, this.#at)));
  }

  private get decoded(): Payload {
    return (this.#payload ??= this.#decoder.payload(this.#buf, this.#at, recordEnd(this.#buf, this.#at)));
  }

  /** The arguments by name. */
  get args(): Args {
    return this.decoded.args as Args;
  }

  /** The return value (return probes only). */
  get ret(): Ret {
    return this.decoded.ret as Ret;
  }

  /** Names of the arguments the kernel could not read (their value is null). */
  get faults(): string[] | undefined {
    return this.decoded.faults;
  }

  /** Kernel stack, innermost frame first (probes with `stack`): return addresses. */
  get kernelStack(): bigint[] | undefined {
    return this.decoded.kernelStack;
  }

  /** User stack, innermost frame first (probes with `stack`). */
  get userStack(): bigint[] | undefined {
    return this.decoded.userStack;
  }

  /**
   * Per user stack frame, the file the kernel found it in, by build id, and
   * the offset in that file: these name the frame after the process is gone.
   * Undefined for a frame the kernel kept only the address of (JIT code, or
   * when it could not look).
   */
  get userStackFiles(): Array<FileFrame | undefined> | undefined {
    return this.decoded.userStackFiles;
  }

  /** Which stacks have frame 1 recovered at the function's entry (the caller, which a frame-pointer walk skips there). */
  get callerAtEntry(): { kernel: boolean; user: boolean } | undefined {
    return this.decoded.callerAtEntry;
  }

  /** Copies the record out of its batch, so that keeping this event does not keep (or depend on) the batch. */
  detach(): this {
    const start = this.#at - RING_HEADER;
    this.#buf = Buffer.from(this.#buf.subarray(start, recordEnd(this.#buf, this.#at)));
    this.#at = RING_HEADER;
    return this;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      probe: this.probe, ns: this.ns, time: this.time, cpu: this.cpu, pid: this.pid, tid: this.tid, uid: this.uid, comm: this.comm,
      cgroupId: this.cgroupId, args: this.args,
    };
    // Host pids only where they differ: in a container.
    if (this.hostPid !== this.pid || this.hostTid !== this.tid) Object.assign(out, { hostPid: this.hostPid, hostTid: this.hostTid });
    for (const k of ['containerId', 'ret', 'faults', 'kernelStack', 'userStack'] as const) if (this[k] !== undefined) out[k] = this[k];
    return out;
  }
}

/**
 * The records of one probe in one batch from the ring buffer, read by index:
 * `batch.pid(i)`, `batch.args(i)`... without an object per event. It reads
 * memory the next batch reuses: it is valid during its listener's call;
 * copy() makes one to keep.
 */
export class EventBatch<Args = Record<string, unknown>> implements Iterable<TraceEvent<Args>> {
  /** How many records. */
  readonly length: number;

  /** The batch as 32-bit words, when it is aligned to them (ring records are): the fixed fields read from it. */
  private readonly words?: Uint32Array;

  /** @internal Batches come from probes. */
  constructor(
    private readonly buf: Buffer,
    /** Where each record starts in `buf`. */
    private readonly offsets: Int32Array,
    /** Each record's decoder (they differ only for a probe over many functions). */
    private readonly decoders: readonly RecordDecoder[],
  ) {
    this.length = offsets.length;
    if (buf.byteOffset % 4 === 0) this.words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  }

  /** The u32 at `field` of record `i` (records, and their u32 fields, are 4-byte aligned). */
  private u32(i: number, field: number): number {
    const at = this.offsets[i] + field;
    return this.words ? this.words[at >>> 2] : this.buf.readUInt32LE(at);
  }

  /** The u64 at `field` of record `i`, as a double (exact below 2^53). */
  private u64(i: number, field: number): number {
    return this.u32(i, field + 4) * 4294967296 + this.u32(i, field);
  }

  /** The probe name of record `i` (`kprobe:vfs_read` for one function of a pattern). */
  probe(i: number): string {
    return this.decoders[i].probe;
  }

  cpu(i: number): number {
    return this.buf.readUInt16LE(this.offsets[i] + R.cpu);
  }

  pid(i: number): number {
    return this.u32(i, R.pid);
  }

  tid(i: number): number {
    return this.u32(i, R.tid);
  }

  uid(i: number): number {
    return this.u32(i, R.uid);
  }

  hostPid(i: number): number {
    return this.u32(i, R.host_pid);
  }

  hostTid(i: number): number {
    return this.u32(i, R.host_tid);
  }

  cgroupId(i: number): number {
    return this.u64(i, R.cgroup_id);
  }

  containerId(i: number): string | undefined {
    return containerOf(this.cgroupId(i));
  }

  comm(i: number): string {
    return recordComm(this.buf, this.offsets[i]);
  }

  /** CLOCK_MONOTONIC nanoseconds. */
  ns(i: number): bigint {
    return this.buf.readBigUInt64LE(this.offsets[i] + R.ns);
  }

  /** The same as a double (exact for some 104 days of uptime): cheaper than a bigint. */
  nsNumber(i: number): number {
    return this.u64(i, R.ns);
  }

  /** What record `i` carries and how each value is shown (its probe's, or its function's for a pattern). */
  plans(i: number): readonly ArgPlan[] {
    return this.decoders[i].plans;
  }

  /** Arguments, return value, faults and stacks of record `i`. */
  payload(i: number): Payload {
    const at = this.offsets[i];
    return this.decoders[i].payload(this.buf, at, recordEnd(this.buf, at));
  }

  args(i: number): Args {
    return this.payload(i).args as Args;
  }

  /** Record `i`'s kernel stack (probes with `stack`), innermost first; symbolize({ pid, ...payload(i) }) names its frames. */
  kernelStack(i: number): bigint[] | undefined {
    return this.payload(i).kernelStack;
  }

  /** Record `i`'s user stack (probes with `stack`), innermost first; payload(i) also has each frame's file by build id. */
  userStack(i: number): bigint[] | undefined {
    return this.payload(i).userStack;
  }

  /** Record `i` as an event, valid while the batch is (detach() it, or copy() the batch, to keep it). */
  event(i: number): TraceEvent<Args> {
    return new TraceEvent<Args>(this.buf, this.offsets[i], this.decoders[i]);
  }

  /** A copy that stays valid after the listener returns (events from it too). */
  copy(): EventBatch<Args> {
    const offsets = this.offsets;
    if (!offsets.length) return this;
    const start = offsets[0] - RING_HEADER;
    const last = offsets[offsets.length - 1];
    const own = Buffer.from(this.buf.subarray(start, recordEnd(this.buf, last)));
    return new EventBatch<Args>(own, offsets.map((o) => o - start), this.decoders);
  }

  *[Symbol.iterator](): Iterator<TraceEvent<Args>> {
    for (let i = 0; i < this.length; i++) yield this.event(i);
  }
}
