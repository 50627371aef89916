/**
 * Turns a batch of ring-buffer records (one Buffer, many records; layout in
 * bpf/kprobe_node.h) into event objects. Runs once per event, so it reads the
 * Buffer directly and allocates only what the event keeps.
 */
import { COMM_LEN, FetchArg, layout } from '../sys/abi';

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

/** A stack entry: u32 byte count, then u64 addresses. Returns the entry and the offset after it. */
function readStack(buf: Buffer, p: number, end: number): [bigint[], number] {
  if (p + 4 > end) return [[], end];
  const bytes = Math.min(buf.readUInt32LE(p), end - p - 4);
  const frames: bigint[] = new Array(bytes >>> 3);
  for (let i = 0; i < frames.length; i++) frames[i] = buf.readBigUInt64LE(p + 4 + i * 8);
  return [frames, p + ((4 + bytes + 7) & ~7)];
}

/** What a record carries after its fixed header, decoded. */
export interface Payload {
  args: Record<string, unknown>;
  ret?: unknown;
  faults?: string[];
  kernelStack?: bigint[];
  userStack?: bigint[];
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
    if (this.stacks.kernel) [out.kernelStack, p] = readStack(buf, p, end);
    if (this.stacks.user) [out.userStack, p] = readStack(buf, p, end);
    return out;
  }
}

/** The comm of the record at `at` (cached by thread: see readComm). */
export function recordComm(buf: Buffer, at: number): string {
  return readComm(buf, at + R.comm, buf.readUInt32LE(at + R.tid));
}
