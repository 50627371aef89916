/**
 * Summaries computed in the kernel: counts in a BPF hash map, histograms of
 * a value (log2, log-linear or linear buckets), and latency histograms from
 * entry/return pairs. A pattern (`vfs_*`, `tracepoint:syscalls:sys_enter_*`)
 * is summarised per function or tracepoint, in the kernel too: each is a
 * part of the probe with its own id. No event reaches JavaScript;
 * `snapshot()` reads the maps when asked.
 *
 *   await using c = countBy('syscall:openat', { by: 'comm' });
 *   ...; console.log(c.snapshot());   // [{ key: 'node', count: 12, label: 'node' }, ...]
 */
import { ProbeOptions, SummaryConfig, Target, formatTarget, onReturn, withReturn } from '../attach';
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import { BucketSpec, CFG_COUNT, CFG_HIST, CFG_LAT_END, CFG_LAT_START, CountBy, layout } from '../sys/abi';
import { isGlob } from '../sys/glob';
import { BucketScale, HistogramGroup, HistogramSnapshot, bucketSpec, histogramSnapshot, mergeSnapshots, scaleSnapshot } from './buckets';
import { CountEntry, decodeKey } from './keys';
import { Summary, SummaryOptions, TargetSpec, abortable, attachTo, checkSummaryOptions, toTarget } from './base';

export type { Bucket, BucketScale, HistogramGroup, HistogramSnapshot } from './buckets';
export { errorBound } from './buckets';
export type { SummaryOptions, TargetSpec } from './base';
export type { CountEntry, CountKey } from './keys';
export { StackCounter, countStacks, setMaxStacks } from './stacks';
export type { StackCount, StackCountOptions, StackSnapshot } from './stacks';

const K = layout.count_key;

/** Entries, largest count first; `dropped`: hits not counted because the count map was full. */
export type CountSnapshot = CountEntry[] & { dropped: number; total: number };

export interface CountOptions extends SummaryOptions {
  /**
   * What to count by: `comm` (default), `pid`, `probe` (one total, or one per
   * function or tracepoint of a pattern), `cgroup` (keys are cgroup ids,
   * labels their paths), `container` (keys are container ids, '' for tasks in
   * no container), or any argument expression (`flags`, `filename`,
   * `file->f_flags`): numbers or strings (the first 16 bytes).
   */
  by?: string;
}

/** Histograms: their buckets, and groups. */
export interface HistogramOptions extends SummaryOptions {
  /** One histogram per `comm` or `pid` (and per function or tracepoint of a pattern, always). */
  by?: 'comm' | 'pid';
  /**
   * Linear buckets: `step` wide from `min` to `max` (at most 1024), one below
   * and one above for the rest (bpftrace's lhist). Percentiles are within ±step.
   */
  linear?: { min: number; max: number; step: number };
  /**
   * Log-linear buckets: each power of two split into 2^bits, 0..5 (bpftrace's
   * hist(n, bits)). Percentiles are within ±2^-bits (bits 3: ±12.5%); log2
   * buckets, the default, only to a factor of two.
   */
  bits?: number;
}

/**
 * An expression on the return value (`ret`, `retval`, `n=ret`) attaches to
 * the return side; `retval` is the name both kretprobes and sys_exit
 * tracepoints understand.
 */
function valueTarget(spec: TargetSpec, expr: string, ret: boolean): { target: Target; expr: string } {
  const m = /^\s*(?:([A-Za-z_]\w*)\s*=(?!=)\s*)?(ret|retval)\b/.exec(expr);
  const target = toTarget(spec, ret || !!m);
  if (onReturn(target) && m) {
    const label = m[1] ?? 'ret';
    expr = `${label}=retval${expr.slice(m[0].length)}`;
  }
  return { target, expr };
}

function probeOptions(o: CountOptions | HistogramOptions, args?: string[]): ProbeOptions {
  const { ret: _ret, by: _by, linear: _linear, bits: _bits, signal: _signal, ...rest } = o as HistogramOptions;
  return args ? { ...rest, args } : rest;
}

/** Counts of a probe's hits, computed in the kernel. Own it: close() detaches it. */
export class Counter extends Summary<CountSnapshot> {
  /** @internal */
  constructor(
    session: Session,
    private readonly probe: Probe,
    /** `comm`, `pid`, `probe` or the expression counted by. */
    readonly by: string,
    private readonly countBy: CountBy,
  ) {
    super(session, [probe], probe);
  }

  get name(): string {
    return this.probe.name;
  }

  protected read(): CountSnapshot {
    const { keys, values } = this.session.counts(this.probe);
    const parts = new Map(this.session.parts(this.probe).map((p) => [p.id, p.name]));
    const many = parts.size > 1;
    // Equal keys are merged: a short string key may carry stale bytes after its NUL.
    const merged = new Map<string, CountEntry>();
    // By container: the kernel counts by cgroup; the cgroups of one container add up.
    const by = this.by === 'container' ? 'container' : this.countBy;
    for (let i = 0; i < values.length; i++) {
      const key = keys.subarray(i * K.size, (i + 1) * K.size);
      const part = parts.get(key.readUInt32LE(K.probe_id)) ?? this.probe.name;
      const plan = this.probe.partPlans?.get(part)?.[0] ?? this.probe.plans[0];
      const entry: CountEntry = { ...decodeKey(key.subarray(K.data), by, plan, part), count: values[i] };
      if (many) entry.probe = part;
      const id = `${part}\0${typeof entry.key}:${String(entry.key)}`;
      const seen = merged.get(id);
      if (seen) seen.count += values[i];
      else merged.set(id, entry);
    }
    const entries = [...merged.values()].sort((a, b) => b.count - a.count) as CountSnapshot;
    entries.dropped = this.dropped;
    entries.total = entries.reduce((n, e) => n + e.count, 0);
    return entries;
  }

  protected clear(): void {
    this.session.clearCounts(this.probe);
  }
}

/**
 * Where a histogram is kept in the kernel: log2 buckets in the `hists` array
 * (one row per part), or one count key per bucket (and group) in `counts`.
 */
type HistogramStore = { kind: 'array' } | { kind: 'counts'; scale: BucketScale; by: CountBy };

/** A histogram computed in the kernel. Own it: close() detaches it. */
export class Histogram extends Summary<HistogramSnapshot> {
  /** @internal */
  constructor(
    session: Session,
    probes: readonly Probe[],
    main: Probe,
    readonly name: string,
    /** `ns` for latency; absent for values. */
    readonly unit: 'ns' | undefined,
    /** What is measured: `latency` or the expression. */
    readonly what: string,
    /** The value is signed: its negative values are counted together, in one bucket below zero. */
    readonly signed: boolean,
    private readonly store: HistogramStore,
    /** The name a group of part `key` shows (latency: the entry's, `kprobe:vfs_read`). */
    private readonly partName: (part: { key: string; name: string }) => string = (p) => p.name,
  ) {
    super(session, probes, main);
  }

  /** Comm or pid, when the histogram is grouped by one. */
  get by(): 'comm' | 'pid' | undefined {
    if (this.store.kind !== 'counts') return undefined;
    return this.store.by === CountBy.Comm ? 'comm' : this.store.by === CountBy.Pid ? 'pid' : undefined;
  }

  protected read(): HistogramSnapshot {
    const opts = { signed: this.signed, unit: this.unit };
    const parts = this.session.parts(this.main);
    // The kernel sums each part's values (not each comm's or pid's).
    const sums = new Map(parts.map((p) => [p.id, this.session.histSum(this.main, p.id)]));
    const groups: HistogramGroup[] = [];
    let scale: BucketScale = { kind: 'log2' };
    if (this.store.kind === 'array') {
      for (const p of parts) groups.push({ probe: this.partName(p), snapshot: histogramSnapshot(this.session.hist(this.main, p.id), { ...opts, sum: sums.get(p.id) }) });
    } else {
      scale = this.store.scale;
      const by = this.store.by;
      const names = new Map(parts.map((p) => [p.id, this.partName(p)]));
      const { keys, values } = this.session.counts(this.main);
      // (part, group) -> bucket -> count
      const cells = new Map<string, { probe: string; id: number; key?: string | number; buckets: Map<number, number> }>();
      for (let i = 0; i < values.length; i++) {
        const key = keys.subarray(i * K.size, (i + 1) * K.size);
        const id = key.readUInt32LE(K.probe_id);
        const probe = names.get(id) ?? this.name;
        const group = by === CountBy.Probe ? undefined : (decodeKey(key.subarray(K.data), by, undefined, probe).key as string | number);
        const cellId = `${probe}\0${String(group)}`;
        let cell = cells.get(cellId);
        if (!cell) cells.set(cellId, (cell = { probe, id, ...(group !== undefined ? { key: group } : {}), buckets: new Map() }));
        const bucket = key.readUInt32LE(K.bucket);
        cell.buckets.set(bucket, (cell.buckets.get(bucket) ?? 0) + values[i]);
      }
      for (const c of cells.values()) {
        const sum = by === CountBy.Probe ? sums.get(c.id) : undefined;
        groups.push({ probe: c.probe, ...(c.key !== undefined ? { key: c.key } : {}), snapshot: scaleSnapshot(scale, c.buckets, { ...opts, sum }) });
      }
    }
    const shown = groups.filter((g) => g.snapshot.total > 0).sort((a, b) => b.snapshot.total - a.snapshot.total);
    const sum = [...sums.values()].reduce((a, b) => a + b, 0n);
    const total = mergeSnapshots(groups.map((g) => g.snapshot), scale, { ...opts, dropped: this.dropped, sum });
    // One function, not grouped: the histogram is its one group.
    if (parts.length > 1 || this.by !== undefined) total.groups = shown;
    return total;
  }

  protected clear(): void {
    // The log2 rows and the sums; a histogram in the count map has its keys too.
    this.session.resetHist(this.main);
    if (this.store.kind === 'counts') this.session.clearCounts(this.main);
  }
}

/** Keys the kernel counts by itself; `container` is counted by cgroup and added up by container here. */
const BY_TASK: Record<string, CountBy> = { comm: CountBy.Comm, pid: CountBy.Pid, probe: CountBy.Probe, cgroup: CountBy.Cgroup, container: CountBy.Cgroup };

/** Whether a target names many functions, tracepoints or syscalls (`vfs_*`). */
function isPattern(t: Target): boolean {
  return 'name' in t && isGlob(t.name);
}

/**
 * Counts the hits of `target` in the kernel, by comm, pid, probe, cgroup,
 * container or the value of an argument expression; by default by comm, or
 * for a pattern by probe (per function or tracepoint, as BCC's funccount does).
 */
export function countBy(target: TargetSpec, opts: CountOptions = {}): Counter {
  const by = opts.by ?? (isPattern(toTarget(target, false)) ? 'probe' : 'comm');
  if (typeof by !== 'string' || by.trim() === '') throw new OptionError('by must be comm, pid, probe, cgroup, container or an argument expression');
  const o = checkSummaryOptions(opts);
  const session = Session.get();
  const task = BY_TASK[by.trim()];
  if (task !== undefined) {
    const probe = attachTo(toTarget(target, !!o.ret), probeOptions(o), { flags: CFG_COUNT, countBy: task }, session);
    return abortable(new Counter(session, probe, by.trim(), task), o.signal);
  }
  const v = valueTarget(target, by, !!o.ret);
  const probe = attachTo(v.target, probeOptions(o, [v.expr]), { flags: CFG_COUNT, countBy: CountBy.Value }, session);
  // The compiler keys strings and byte arrays by their bytes (CountBy.String).
  const kind = probe.plans[0]?.kind;
  return abortable(new Counter(session, probe, by, kind === 'string' || kind === 'bytes' ? CountBy.String : CountBy.Value), o.signal);
}

/**
 * Where a histogram's values go: the log2 array (the fastest, when neither
 * finer buckets nor groups are asked for), or the count map, one key per
 * bucket and group. `flags` is what the value's probe adds to CFG_HIST or CFG_COUNT.
 */
function histogramPlan(o: HistogramOptions, flags: number): { summary: SummaryConfig; store: HistogramStore } {
  const by = o.by;
  if (by !== undefined && by !== 'comm' && by !== 'pid') throw new OptionError(`a histogram is grouped by comm or pid, got ${JSON.stringify(by)}`);
  const { scale, spec } = bucketSpec(o);
  if (by === undefined && scale.kind === 'log2') return { summary: { flags: flags | CFG_HIST }, store: { kind: 'array' } };
  const countBy = by === 'comm' ? CountBy.Comm : by === 'pid' ? CountBy.Pid : CountBy.Probe;
  const buckets: BucketSpec = spec;
  return { summary: { flags: flags | CFG_COUNT, countBy, buckets }, store: { kind: 'counts', scale, by: countBy } };
}

/**
 * A histogram of a numeric argument or return value (`count` of
 * `syscall:write`, `ret` of `syscall:read`), computed in the kernel: log2
 * buckets, or finer ones (`bits`, `linear`), optionally one per comm or pid.
 */
export function histogram(target: TargetSpec, expr: string, opts: HistogramOptions = {}): Histogram {
  if (typeof expr !== 'string' || expr.trim() === '') throw new OptionError('histogram needs an expression, e.g. count or ret');
  const o = checkSummaryOptions(opts);
  const { summary, store } = histogramPlan(o, 0);
  const session = Session.get();
  const v = valueTarget(target, expr, !!o.ret);
  const probe = attachTo(v.target, probeOptions(o, [v.expr]), summary, session);
  const plan = probe.plans[0];
  if (plan.kind === 'string' || plan.kind === 'bytes') {
    probe.close();
    throw new OptionError(`a histogram needs a number: ${expr} is a ${plan.type} (count by it instead)`);
  }
  return abortable(new Histogram(session, [probe], probe, probe.name, undefined, expr, plan.kind === 'i32' || plan.kind === 'i64', store), o.signal);
}

/** Entry and return probes of one latency histogram share this id in the kernel's `starts` map. */
let nextPair = 1;

/**
 * The time each call of a kernel or user function, or a syscall, takes, per
 * thread (entry to return), as a log2 histogram in nanoseconds: a kprobe and
 * a kretprobe, a uprobe and a uretprobe, or the sys_enter/sys_exit
 * tracepoints of a syscall. `filter` applies at entry (the arguments are there).
 */
export function latency(target: TargetSpec, opts: HistogramOptions = {}): Histogram {
  const o = checkSummaryOptions(opts);
  const t = toTarget(target, false);
  if (t.kind === 'tracepoint' || t.kind === 'profile') throw new OptionError(`latency needs a function or a syscall: ${formatTarget(t)} has no return to pair with`);
  const { summary, store } = histogramPlan(o, CFG_LAT_END);
  const session = Session.get();
  // A pattern pairs each function's (or syscall's) entry with its own return: a pair id each.
  const many = isPattern(t);
  const pairs = new Map<string, number>();
  const pairOf = (key: string): number => {
    if (!pairs.has(key)) pairs.set(key, nextPair++);
    return pairs.get(key) as number;
  };
  const pair = many ? pairOf : nextPair++;
  const base = probeOptions(o);
  const start = attachTo(withReturn(t, false), base, { flags: CFG_LAT_START, pair }, session);
  let end: Probe;
  try {
    // The argument filter ran at entry; the return side keeps only the task filters.
    end = attachTo(withReturn(t, true), { ...base, filter: undefined }, { ...summary, pair }, session);
  } catch (e) {
    start.close();
    throw e;
  }
  const entry = withReturn(t, false);
  // Each function's histogram is named as its entry is: kprobe:vfs_read, syscall:read.
  const partName = many ? (p: { key: string }) => formatTarget({ ...entry, name: p.key } as Target) : () => formatTarget(entry);
  return abortable(new Histogram(session, [start, end], end, formatTarget(entry), 'ns', 'latency', false, store, partName), o.signal);
}
