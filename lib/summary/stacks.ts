/**
 * Stacks counted in the kernel, as BCC's stackcount counts them: each hit
 * adds one to a count keyed by (probe, comm or pid, kernel stack id, user
 * stack id), the stacks themselves kept once in the kernel's stack maps
 * (user stacks as build id + file offset per frame). Nothing is streamed;
 * snapshot() reads the counts and names the frames.
 *
 *   await using s = countStacks('syscall:write', { stack: 'user' });
 *   ...; for (const line of s.folded()) console.log(line);   // comm;main;f;write 12
 */
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { readFileFrames } from '../core/decode';
import { OptionError } from '../errors';
import { BUILD_ID_FRAME, CFG_STACKS, CFG_STACKS_PID, MAX_STACK, layout } from '../sys/abi';
import { Frame, kernelFrames } from '../stacks/symbolize';
import { folded } from '../stacks/folded';
import { RawUserFrame, userStackFrames } from '../stacks/user';
import { Summary, SummaryOptions, TargetSpec, abortable, attachTo, checkSummaryOptions, toTarget } from './base';

export interface StackCountOptions extends SummaryOptions {
  /** Which stacks to count by: `kernel`, `user` or `both` (default). */
  stack?: 'kernel' | 'user' | 'both';
  /** One count per command name (`comm`, default) or per process (`pid`). */
  by?: 'comm' | 'pid';
  /** Demangle C++ names (default true). */
  demangle?: boolean;
}

/** One stack and how often it was hit. */
export interface StackCount {
  count: number;
  comm: string;
  /** With `by: 'pid'`. */
  pid?: number;
  /** Innermost frame first; absent when not asked for, or when the task had none (a kernel thread's user stack). */
  kernel?: Frame[];
  user?: Frame[];
  /** A stack the kernel could not keep (its stack map was full, or two stacks shared a slot): it counts, unnamed. */
  lost?: Array<'kernel' | 'user'>;
}

/** Stacks, most hit first; `dropped`: hits not counted (the count map was full); `total`: hits counted. */
export type StackSnapshot = StackCount[] & { dropped: number; total: number };

const K = layout.stack_key;
/** Stack ids the kernel gives instead of an id: not asked for (-1), no stack (-EFAULT), not kept (-EEXIST, -ENOMEM). */
const NOT_KEPT = new Set([-17, -12]);

/** Stacks kept in each stack map (an entry holds 127 frames: 4 KiB in the user map, 1 KiB in the kernel map). */
let maxStacks = Number(process.env.KPROBE_NODE_MAX_STACKS) > 0 ? Number(process.env.KPROBE_NODE_MAX_STACKS) : 8192;

/** Sizes the stack maps made for the next stack counter (they exist while any counts). */
export function setMaxStacks(n: number): void {
  maxStacks = n;
}

/** The raw frames of one stack map entry: addresses, or build id frames for user stacks (zero after the last). */
function kernelAddresses(value: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let at = 0; at + 8 <= value.length; at += 8) {
    const a = value.readBigUInt64LE(at);
    if (a === 0n) break;
    out.push(a);
  }
  return out;
}

/** A user stack map entry: status 0 ends it; a build id frame names its file, an address frame (JIT code) its address. */
function userRaw(value: Buffer): RawUserFrame[] {
  const n = Math.min(MAX_STACK, Math.floor(value.length / BUILD_ID_FRAME));
  const files = readFileFrames(value, 0, n);
  const out: RawUserFrame[] = [];
  for (let i = 0; i < n; i++) {
    const status = value.readInt32LE(i * BUILD_ID_FRAME);
    if (status === 0) break;
    out.push(files[i] ? { file: files[i] } : { address: value.readBigUInt64LE(i * BUILD_ID_FRAME + 24) });
  }
  return out;
}

/** Hits of a probe by stack, counted in the kernel. Own it: close() detaches it and frees the stack maps. */
export class StackCounter extends Summary<StackSnapshot> {
  /** Stacks read from the stack maps, by id (an id names the same stack while the maps exist). */
  private readonly kernelCache = new Map<number, bigint[]>();
  private readonly userCache = new Map<number, RawUserFrame[]>();
  #released = false;

  /** @internal */
  constructor(
    session: Session,
    private readonly probe: Probe,
    /** `comm` or `pid`. */
    readonly by: 'comm' | 'pid',
    private readonly demangle: boolean,
  ) {
    super(session, [probe], probe);
  }

  get name(): string {
    return this.probe.name;
  }

  /** The stacks as folded lines (`comm;outermost;...;innermost count`, most hit first): flamegraph.pl's and speedscope's input. */
  folded(): string[] {
    return this.snapshot().map((s) => folded(s, s.count));
  }

  protected read(): StackSnapshot {
    const maps = this.session.stackMaps();
    const { keys, counts, pids } = maps.stackCounts(this.probe.id);
    const rows = counts.length;
    const at = (i: number) => i * K.size;
    // Stacks not read yet, read in one call per map.
    const unread = (cache: Map<number, unknown>, field: number): number[] => {
      const ids = new Set<number>();
      for (let i = 0; i < rows; i++) {
        const id = keys.readInt32LE(at(i) + field);
        if (id >= 0 && !cache.has(id)) ids.add(id);
      }
      return [...ids];
    };
    const kIds = unread(this.kernelCache, K.kstack);
    const uIds = unread(this.userCache, K.ustack);
    maps.stackTraces(false, kIds).forEach((v, i) => this.kernelCache.set(kIds[i], v ? kernelAddresses(v) : []));
    maps.stackTraces(true, uIds).forEach((v, i) => this.userCache.set(uIds[i], v ? userRaw(v) : []));

    // Entries that name the same frames (a caller recovered at entry differs per process) add up.
    const merged = new Map<string, StackCount>();
    let total = 0;
    for (let i = 0; i < rows; i++) {
      const k = at(i);
      const count = counts[i];
      total += count;
      const entry = this.entry(keys, k, count, pids[i]);
      const id = `${entry.comm}\0${entry.pid ?? ''}\0${(entry.kernel ?? []).join('\n')}\0${(entry.user ?? []).join('\n')}\0${entry.lost?.join() ?? ''}`;
      const seen = merged.get(id);
      if (seen) seen.count += count;
      else merged.set(id, entry);
    }
    const out = [...merged.values()].sort((a, b) => b.count - a.count) as StackSnapshot;
    out.dropped = this.dropped;
    out.total = total;
    return out;
  }

  /** One key of the `stack_counts` map (struct kn_stack_key at `k`) as a stack with its frames named. */
  private entry(keys: Buffer, k: number, count: number, lastPid: number): StackCount {
    const end = keys.indexOf(0, k + K.comm);
    const comm = keys.toString('latin1', k + K.comm, end < 0 || end > k + K.comm + 16 ? k + K.comm + 16 : end);
    const keyPid = keys.readUInt32LE(k + K.pid);
    const entry: StackCount = { count, comm };
    if (this.by === 'pid') entry.pid = keyPid;
    const kstack = keys.readInt32LE(k + K.kstack);
    const ustack = keys.readInt32LE(k + K.ustack);
    const lost: Array<'kernel' | 'user'> = [];
    if (kstack >= 0) {
      const addrs = [...(this.kernelCache.get(kstack) ?? [])];
      const caller = keys.readBigUInt64LE(k + K.kcaller);
      if (caller && addrs.length) addrs.splice(1, 0, caller);
      entry.kernel = kernelFrames(addrs, caller ? 1 : -1);
    } else if (NOT_KEPT.has(kstack)) lost.push('kernel');
    if (ustack >= 0) {
      const raw = [...(this.userCache.get(ustack) ?? [])];
      const caller = keys.readBigUInt64LE(k + K.ucaller);
      if (caller && raw.length) {
        // The caller is placed in frame 0's file by frame 0's address.
        raw[0] = { ...raw[0], address: keys.readBigUInt64LE(k + K.uentry) };
        raw.splice(1, 0, { address: caller });
      }
      entry.user = userStackFrames(keyPid || lastPid, raw, { demangle: this.demangle, callerAt: caller ? 1 : -1 });
    } else if (NOT_KEPT.has(ustack)) lost.push('user');
    if (lost.length) entry.lost = lost;
    return entry;
  }

  protected clear(): void {
    this.session.stackMaps().clearStackCounts(this.probe.id);
  }

  override close(): void {
    super.close();
    if (this.#released) return;
    this.#released = true;
    useStackMaps(this.session, -1);
  }
}

/** Stack counters per session: the stack maps (`entries` stacks each) exist from the first (+1) to the last (-1). */
const stackMapUsers = new WeakMap<Session, number>();

function useStackMaps(session: Session, delta: 1 | -1, entries = 0): void {
  const before = stackMapUsers.get(session) ?? 0;
  stackMapUsers.set(session, Math.max(0, before + delta));
  if (before === 0 && delta > 0) session.stackMaps().createStackMaps(entries);
  else if (before === 1 && delta < 0) session.stackMaps().dropStackMaps();
}

/**
 * Counts the hits of `target` by stack in the kernel (BCC's stackcount):
 * kernel stacks, user stacks or both, by comm or by process. User frames are
 * named by build id, so that short-lived processes and PIE binaries name
 * theirs after they exit.
 */
export function countStacks(target: TargetSpec, opts: StackCountOptions = {}): StackCounter {
  const { stack = 'both', by = 'comm', demangle = true, ...rest } = opts ?? {};
  if (!['kernel', 'user', 'both'].includes(stack)) throw new OptionError(`stack must be 'kernel', 'user' or 'both', got ${JSON.stringify(stack)}`);
  if (by !== 'comm' && by !== 'pid') throw new OptionError(`countStacks counts by comm or pid, got ${JSON.stringify(by)}`);
  const o = checkSummaryOptions(rest);
  const { ret, signal, ...probeOpts } = o;
  const session = Session.get();
  useStackMaps(session, 1, maxStacks);
  let probe: Probe;
  try {
    probe = attachTo(toTarget(target, !!ret), { ...probeOpts, stack }, { flags: CFG_STACKS | (by === 'pid' ? CFG_STACKS_PID : 0) }, session);
  } catch (e) {
    useStackMaps(session, -1);
    throw e;
  }
  return abortable(new StackCounter(session, probe, by, demangle), signal);
}
