/**
 * Turns a batch of ring-buffer records (one Buffer, many records; layout in
 * bpf/kprobe_node.h) into event objects. Runs once per event, so it reads the
 * Buffer directly and allocates only what the event keeps.
 */
import { BUILD_ID_FRAME, COMM_LEN, FetchArg, STACK_BUILD_IDS, STACK_BYTES, STACK_CALLER, layout } from '../sys/abi';

/** How a payload entry becomes a JavaScript value. */
export type ValueKind = 'i32' | 'u32' | 'i64' | 'u64' | 'bool' | 'string' | 'bytes';

/** One argument of a probe: what the kernel fetches and how it is decoded and shown. */
export interface ArgPlan {
  /** The name events use for it (a parameter name, a label, or `ret`). */
  name: string;
  /** Its C type, for display (`const char *`, `struct file *`, `int`). */
  type: string;
  fetch: FetchArg;
  kind: ValueKind;
  /** The return value of a return probe: goes to `event.ret`, not `event.args`. */
  isReturn?: boolean;
  /** Maps the decoded value to the one events carry (enum names, for instance). */
  convert?: (value: number | bigint | boolean | string | Buffer) => unknown;
  /** Formats the event's value for the CLI. */
  format?: (value: unknown) => string;
}

const R = layout.record;

/**
 * comm strings by thread: decoding 16 bytes into a string costs more than the
 * rest of an event, and a thread's comm rarely changes. An entry is reused
 * only while the raw bytes still match.
 */
interface CommEntry {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  comm: string;
}
const commCache = new Map<number, CommEntry>();
const COMM_CACHE_LIMIT = 4096;

function readComm(buf: Buffer, at: number, tid: number): string {
  const w0 = buf.readUInt32LE(at);
  const w1 = buf.readUInt32LE(at + 4);
  const w2 = buf.readUInt32LE(at + 8);
  const w3 = buf.readUInt32LE(at + 12);
  const hit = commCache.get(tid);
  if (hit && hit.w0 === w0 && hit.w1 === w1 && hit.w2 === w2 && hit.w3 === w3) return hit.comm;
  let end = at;
  const max = at + COMM_LEN;
  while (end < max && buf[end] !== 0) end++;
  const comm = buf.toString('latin1', at, end);
  if (commCache.size >= COMM_CACHE_LIMIT) commCache.clear();
  commCache.set(tid, { w0, w1, w2, w3, comm });
  return comm;
}

/** Which stacks follow the arguments in a probe's records. */
export interface StackLayout {
  kernel: boolean;
  user: boolean;
}

/** A user frame as the kernel named it: the build id of the file it is in, and the offset in that file. */
export interface FileFrame {
  buildId: string;
  offset: number;
}

/** struct bpf_stack_build_id: status (0 empty, 1 build id + offset, 2 address only). */
const BUILD_ID_VALID = 1;

/** `n` build id frames (struct bpf_stack_build_id) at `at`: a FileFrame, or undefined where the kernel kept only the address. */
export function readFileFrames(buf: Buffer, at: number, n: number): Array<FileFrame | undefined> {
  const out: Array<FileFrame | undefined> = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = at + i * BUILD_ID_FRAME;
    if (e + BUILD_ID_FRAME > buf.length || buf.readInt32LE(e) !== BUILD_ID_VALID) continue;
    out[i] = { buildId: trimBuildId(buf, e + 4), offset: Number(buf.readBigUInt64LE(e + 24)) };
  }
  return out;
}

/** A build id field holds 20 bytes; shorter ids (md5: 16) are zero-padded. */
function trimBuildId(buf: Buffer, at: number): string {
  let end = at + 20;
  while (end > at + 16 && buf[end - 1] === 0) end--;
  return buf.toString('hex', at, end);
}

/** A stack entry as decoded: addresses, and for user stacks what the kernel named each frame by. */
interface StackEntry {
  frames: bigint[];
  files?: Array<FileFrame | undefined>;
  /** Frame 1 was read at the function's entry (KN_STACK_CALLER). */
  callerAtEntry: boolean;
}

/** A stack entry (layout in kprobe_node.h). Returns the entry and the offset after it. */
function readStack(buf: Buffer, p: number, end: number): [StackEntry, number] {
  if (p + 4 > end) return [{ frames: [], callerAtEntry: false }, end];
  const word = buf.readUInt32LE(p);
  const bytes = Math.min(word & STACK_BYTES, end - p - 4);
  const frames: bigint[] = new Array(bytes >>> 3);
  for (let i = 0; i < frames.length; i++) frames[i] = buf.readBigUInt64LE(p + 4 + i * 8);
  const entry: StackEntry = { frames, callerAtEntry: (word & STACK_CALLER) !== 0 };
  let size = bytes;
  if (word & STACK_BUILD_IDS) {
    const n = Math.min(frames.length, Math.floor((end - p - 4 - bytes) / BUILD_ID_FRAME));
    entry.files = readFileFrames(buf, p + 4 + bytes, n);
    size += frames.length * BUILD_ID_FRAME;
  }
  return [entry, p + ((4 + size + 7) & ~7)];
}

/** What a record carries after its fixed header, decoded. */
export interface Payload {
  args: Record<string, unknown>;
  ret?: unknown;
  faults?: string[];
  kernelStack?: bigint[];
  userStack?: bigint[];
  /** Per user frame, its file as the kernel named it by build id (undefined: the address only). */
  userStackFiles?: Array<FileFrame | undefined>;
  /** Which stacks have their frame 1 read at the function's entry (a caller the frame-pointer walk skips). */
  callerAtEntry?: { kernel: boolean; user: boolean };
}

/**
 * Decodes the records of one probe (or of one function of a pattern). A
 * record starts at `at` with struct kn_record; `end` is where it ends.
 */
export class RecordDecoder {
  readonly userStacks: boolean;

  constructor(
    /** The name its events carry: `kprobe:vfs_read`, `syscall:openat`. */
    readonly probe: string,
    readonly plans: readonly ArgPlan[],
    private readonly stacks: StackLayout = { kernel: false, user: false },
  ) {
    this.userStacks = stacks.user;
  }

  /** The arguments, return value, faults and stacks of the record at `at`. */
  payload(buf: Buffer, at: number, end: number): Payload {
    const faults = buf.readUInt16LE(at + R.faults);
    const out: Payload = { args: {} };
    let p = at + R.size;
    for (let i = 0; i < this.plans.length; i++) {
      const plan = this.plans[i];
      let value: unknown;
      if (p + 8 > end) {
        value = null; // a record cut short by the payload limit
      } else if (plan.kind === 'string' || plan.kind === 'bytes') {
        const len = Math.min(buf.readUInt32LE(p), end - p - 4);
        value = plan.kind === 'string' ? buf.toString('utf8', p + 4, p + 4 + len) : Buffer.from(buf.subarray(p + 4, p + 4 + len));
        p += (4 + len + 7) & ~7;
      } else {
        switch (plan.kind) {
          case 'i32': value = buf.readInt32LE(p); break;
          case 'u32': value = buf.readUInt32LE(p); break;
          case 'bool': value = buf.readUInt32LE(p) !== 0; break;
          case 'i64': value = buf.readBigInt64LE(p); break;
          default: value = buf.readBigUInt64LE(p); break;
        }
        p += 8;
      }
      if (faults & (1 << i)) {
        value = null;
        (out.faults ??= []).push(plan.name);
      } else if (plan.convert) {
        value = plan.convert(value as number | bigint | boolean | string | Buffer);
      }
      if (plan.fetch.hidden) continue;
      if (plan.isReturn) out.ret = value;
      else out.args[plan.name] = value;
    }
    let kernel: StackEntry | undefined;
    let user: StackEntry | undefined;
    if (this.stacks.kernel) [kernel, p] = readStack(buf, p, end);
    if (this.stacks.user) [user, p] = readStack(buf, p, end);
    if (kernel) out.kernelStack = kernel.frames;
    if (user) {
      out.userStack = user.frames;
      if (user.files) out.userStackFiles = user.files;
    }
    if (kernel?.callerAtEntry || user?.callerAtEntry) out.callerAtEntry = { kernel: !!kernel?.callerAtEntry, user: !!user?.callerAtEntry };
    return out;
  }
}

/** The comm of the record at `at` (cached by thread: see readComm). */
export function recordComm(buf: Buffer, at: number): string {
  return readComm(buf, at + R.comm, buf.readUInt32LE(at + R.tid));
}
