/**
 * The TypeScript mirror of bpf/kprobe_node.h: constants, struct layouts, and
 * the encoder of struct kn_config. test/unit/abi.test.ts checks every size and
 * offset here against the values the native addon computes from the header.
 */

export const COMM_LEN = 16;
export const MAX_ARGS = 8;
export const MAX_STEPS = 12;
export const MAX_FILTERS = 8;
export const MAX_STR = 4096;
export const DATA_SIZE = 16384;
export const COOKIE_GEN_SHIFT = 16;
export const HIST_BUCKETS = 64;
export const MAX_BUCKET_BITS = 5;
export const MAX_LINEAR_BUCKETS = 1024;
/** The bucket of a negative value in a signed log2 or log-linear histogram counted in `counts`. */
export const BUCKET_NEGATIVE = 0xffffffff;
export const MAX_STACK = 127;
/** sizeof(struct bpf_stack_build_id): a user frame as build id (20 bytes) and file offset. */
export const BUILD_ID_FRAME = 32;

/** A stack entry's u32: the byte count of its addresses, and flags. */
export const STACK_BYTES = 0xffff;
/** Frame 1 is the caller's return address, read at the function's entry. */
export const STACK_CALLER = 0x10000;
/** The addresses are followed by one build id frame per address. */
export const STACK_BUILD_IDS = 0x20000;

export enum Source {
  None = 0,
  Reg = 1,
  Ret = 2,
  Ctx = 3,
}

export enum Store {
  Value = 0,
  Mem = 1,
  MemUser = 2,
  Str = 3,
  StrUser = 4,
  Bytes = 5,
  BytesUser = 6,
  DataLoc = 7,
}

export const ARG_SIGNED = 0x01;
export const ARG_HIDDEN = 0x02;

export enum FilterOp {
  Eq = 0,
  Ne = 1,
  Lt = 2,
  Le = 3,
  Gt = 4,
  Ge = 5,
  SLt = 6,
  SLe = 7,
  SGt = 8,
  SGe = 9,
  And = 10,
  StrEq = 11,
}

export const CFG_PID = 0x01;
export const CFG_TID = 0x02;
export const CFG_UID = 0x04;
export const CFG_COMM = 0x08;
export const CFG_KSTACK = 0x10;
export const CFG_USTACK = 0x20;
export const CFG_COUNT = 0x100;
export const CFG_HIST = 0x200;
export const CFG_LAT_START = 0x400;
export const CFG_LAT_END = 0x800;
export const CFG_PIDNS = 0x1000;
export const CFG_CGROUP = 0x2000;
/** Kernel stack taken at a function's first instruction: recover its caller. */
export const CFG_KCALLER = 0x10000;
/** The same for the user stack. */
export const CFG_UCALLER = 0x20000;
/** Count hits by stack in the kernel instead of emitting them. */
export const CFG_STACKS = 0x40000;
/** Stack counts by process id (else by comm). */
export const CFG_STACKS_PID = 0x80000;
export const CFG_NOT_SELF = 0x100000;
export const CFG_ENABLED = 0x80000000;

/** What a counting probe counts by (enum kn_count_by). */
export enum CountBy {
  Probe = 0,
  Comm = 1,
  Pid = 2,
  Value = 3,
  String = 4,
  Cgroup = 5,
}

/** How a histogram counted in `counts` turns a value into a bucket (enum kn_bucket_mode). */
export enum BucketMode {
  None = 0,
  Log2 = 1,
  Linear = 2,
  LogLinear = 3,
}

/** Buckets of a histogram counted in `counts` (struct kn_buckets). */
export interface BucketSpec {
  mode: BucketMode;
  /** Linear: the low end of bucket 1 (bucket 0 holds what is below it). */
  min?: bigint;
  /** Linear: the width of each bucket. */
  step?: bigint;
  /** Linear: buckets from min up; bucket count + 1 holds what is above them. */
  count?: number;
  /** Log-linear: each power of two is split into 2^bits buckets. */
  bits?: number;
  /** Negative values are below min (linear), or in bucket BUCKET_NEGATIVE. */
  signed?: boolean;
}

/** Byte layouts; the keys match the C member names. */
export const layout = {
  step: { size: 8, offset: 0, user: 4 },
  arg: {
    size: 8 + 8 + 8 * MAX_STEPS,
    source: 0,
    reg: 1,
    nsteps: 2,
    store: 3,
    size_: 4,
    flags: 6,
    bit_offset: 7,
    offset: 8,
    bit_size: 12,
    steps: 16,
  },
  filter: { size: 32, arg: 0, op: 1, operand: 8, str: 16 },
  config: {
    size: 0,
    flags: 0,
    pid: 4,
    tid: 8,
    uid: 12,
    comm: 16,
    nargs: 32,
    nfilters: 33,
    count_by: 34,
    gen: 35,
    pair: 36,
    filters: 40,
    args: 40 + 32 * MAX_FILTERS,
    pidns: 0,
    pidns_dev: 0,
    caller_reg: 0,
    caller_deref: 0,
    buckets: 0,
  },
  buckets: { size: 24, min: 0, step: 8, count: 16, mode: 20, bits: 21, is_signed: 22 },
  count_key: { size: 24, probe_id: 0, bucket: 4, data: 8 },
  stack_key: { size: 56, probe_id: 0, pid: 4, kstack: 8, ustack: 12, kcaller: 16, ucaller: 24, uentry: 32, comm: 40 },
  stack_count: { size: 16, count: 0, pid: 8 },
  record: { size: 64, size_: 0, probe_id: 4, ns: 8, pid: 16, tid: 20, uid: 24, cpu: 28, faults: 30, comm: 32, host_pid: 48, host_tid: 52, cgroup_id: 56 },
};
layout.config.pidns = layout.config.args + layout.arg.size * MAX_ARGS;
layout.config.pidns_dev = layout.config.pidns + 4;
layout.config.caller_reg = layout.config.pidns_dev + 4;
layout.config.caller_deref = layout.config.caller_reg + 2;
// struct kn_buckets starts on 8 bytes (its s64 min).
layout.config.buckets = (layout.config.caller_deref + 2 + 7) & ~7;
layout.config.size = layout.config.buckets + layout.buckets.size;

/** One dereference of a fetch program: value = *(u64 *)(value + offset). */
export interface FetchStep {
  offset: number;
  user: boolean;
}

/** A fetch program for one argument, as the BPF side runs it. */
export interface FetchArg {
  source: Source;
  reg?: number;
  steps: FetchStep[];
  store: Store;
  /** Scalar width in bytes (1, 2, 4, 8), or the maximum string/byte length. */
  size: number;
  signed?: boolean;
  hidden?: boolean;
  /** Offset added to the value before the store reads memory. */
  offset?: number;
  bitOffset?: number;
  bitSize?: number;
}

export interface FetchFilter {
  arg: number;
  op: FilterOp;
  operand?: bigint;
  str?: string;
}

/** A PID namespace as the kernel identifies it: the inode of /proc/self/ns/pid and its device (the kernel's numbering). */
export interface PidNamespace {
  ino: number;
  dev: number;
}

export interface ProbeConfig {
  /** Extra CFG_* flags: stacks, counting, histograms, latency. */
  flags?: number;
  /** The slot's generation, as its attachments' cookies carry it (cookieOf). */
  gen?: number;
  countBy?: CountBy;
  /** Latency: the id that entry and return probes share. */
  pair?: number;
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
  /** The tracer's pid namespace, when it is not the initial one: pids are then that namespace's. */
  pidns?: PidNamespace;
  /** Only tasks in this cgroup v2 directory or below it; the session puts the cgroup in the kernel's `cgroups` map. */
  cgroup?: string;
  args: FetchArg[];
  filters?: FetchFilter[];
  /** CFG_KCALLER/CFG_UCALLER: byte offset in struct pt_regs of the register holding the return address at entry, or pointing at it. */
  callerReg?: number;
  callerDeref?: boolean;
  /** With CFG_COUNT: count the value's bucket (a histogram that can be grouped like a count). */
  buckets?: BucketSpec;
}

/** The BPF cookie of an attachment of probe `id` in generation `gen` of its slot. */
export function cookieOf(id: number, gen: number): number {
  return ((gen & 0xff) * (1 << COOKIE_GEN_SHIFT) + id) >>> 0;
}

/** Encodes a struct kn_config. */
export function encodeConfig(cfg: ProbeConfig): Buffer {
  const L = layout.config;
  const b = Buffer.alloc(L.size);
  let flags = CFG_ENABLED | (cfg.flags ?? 0);
  b.writeUInt8(cfg.countBy ?? 0, L.count_by);
  b.writeUInt8(cfg.gen ?? 0, L.gen);
  b.writeUInt32LE(cfg.pair ?? 0, L.pair);
  b.writeUInt16LE(cfg.callerReg ?? 0, L.caller_reg);
  b.writeUInt8(cfg.callerDeref ? 1 : 0, L.caller_deref);
  if (cfg.pid !== undefined) {
    flags |= CFG_PID;
    b.writeUInt32LE(cfg.pid, L.pid);
  }
  if (cfg.tid !== undefined) {
    flags |= CFG_TID;
    b.writeUInt32LE(cfg.tid, L.tid);
  }
  if (cfg.uid !== undefined) {
    flags |= CFG_UID;
    b.writeUInt32LE(cfg.uid, L.uid);
  }
  if (cfg.comm !== undefined) {
    flags |= CFG_COMM;
    b.write(cfg.comm.slice(0, COMM_LEN - 1), L.comm, 'latin1');
  }
  if (cfg.pidns !== undefined) {
    flags |= CFG_PIDNS;
    b.writeUInt32LE(cfg.pidns.ino, L.pidns);
    b.writeUInt32LE(cfg.pidns.dev, L.pidns_dev);
  }
  if (cfg.cgroup !== undefined) flags |= CFG_CGROUP;
  b.writeUInt32LE(flags >>> 0, L.flags);
  if (cfg.args.length > MAX_ARGS) throw new RangeError(`at most ${MAX_ARGS} arguments per probe`);
  const filters = cfg.filters ?? [];
  if (filters.length > MAX_FILTERS) throw new RangeError(`at most ${MAX_FILTERS} filters per probe`);
  b.writeUInt8(cfg.args.length, L.nargs);
  b.writeUInt8(filters.length, L.nfilters);
  filters.forEach((f, i) => {
    const at = L.filters + i * layout.filter.size;
    b.writeUInt8(f.arg, at + layout.filter.arg);
    b.writeUInt8(f.op, at + layout.filter.op);
    b.writeBigUInt64LE(BigInt.asUintN(64, f.operand ?? 0n), at + layout.filter.operand);
    if (f.str !== undefined) b.write(f.str.slice(0, COMM_LEN - 1), at + layout.filter.str, 'latin1');
  });
  cfg.args.forEach((a, i) => encodeArg(b, L.args + i * layout.arg.size, a));
  if (cfg.buckets) encodeBuckets(b, L.buckets, cfg.buckets);
  return b;
}

function encodeBuckets(b: Buffer, at: number, h: BucketSpec): void {
  const B = layout.buckets;
  b.writeBigInt64LE(h.min ?? 0n, at + B.min);
  b.writeBigUInt64LE(h.step ?? 0n, at + B.step);
  b.writeUInt32LE(h.count ?? 0, at + B.count);
  b.writeUInt8(h.mode, at + B.mode);
  b.writeUInt8(h.bits ?? 0, at + B.bits);
  b.writeUInt8(h.signed ? 1 : 0, at + B.is_signed);
}

function encodeArg(b: Buffer, at: number, a: FetchArg): void {
  const A = layout.arg;
  if (a.steps.length > MAX_STEPS) throw new RangeError(`at most ${MAX_STEPS} dereferences per argument`);
  b.writeUInt8(a.source, at + A.source);
  b.writeUInt8(a.reg ?? 0, at + A.reg);
  b.writeUInt8(a.steps.length, at + A.nsteps);
  b.writeUInt8(a.store, at + A.store);
  b.writeUInt16LE(a.size, at + A.size_);
  b.writeUInt8((a.signed ? ARG_SIGNED : 0) | (a.hidden ? ARG_HIDDEN : 0), at + A.flags);
  b.writeUInt8(a.bitOffset ?? 0, at + A.bit_offset);
  b.writeInt32LE(a.offset ?? 0, at + A.offset);
  b.writeUInt8(a.bitSize ?? 0, at + A.bit_size);
  a.steps.forEach((s, j) => {
    const st = at + A.steps + j * layout.step.size;
    b.writeInt32LE(s.offset, st + layout.step.offset);
    b.writeUInt8(s.user ? 1 : 0, st + layout.step.user);
  });
}

/** True when the store yields a length-prefixed string or byte entry. */
export function isVariable(store: Store): boolean {
  return store >= Store.Str;
}
