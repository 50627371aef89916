/**
 * Summaries computed in the kernel: counts in a BPF hash map, log2
 * histograms of a value, and latency histograms from entry/return pairs.
 * No event reaches JavaScript; `snapshot()` reads the maps when asked.
 *
 *   await using c = countBy('syscall:openat', { by: 'comm' });
 *   ...; console.log(c.snapshot());   // [{ key: 'node', count: 12, label: 'node' }, ...]
 */
import { ProbeOptions, Target, formatTarget, onReturn, withReturn } from '../attach';
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import { CFG_COUNT, CFG_HIST, CFG_LAT_END, CFG_LAT_START, CountBy, layout } from '../sys/abi';
import { Summary, SummaryOptions, TargetSpec, abortable, attachTo, checkSummaryOptions, toTarget } from './base';
import { HistogramSnapshot, histogramSnapshot } from './buckets';
import { CountEntry, decodeKey } from './keys';

export type { SummaryOptions, TargetSpec } from './base';
export type { Bucket, HistogramSnapshot } from './buckets';
export type { CountEntry, CountKey } from './keys';
export { StackCounter, countStacks, setMaxStacks } from './stacks';
export type { StackCount, StackCountOptions, StackSnapshot } from './stacks';

/** Bytes of a count key's data (struct kn_count_key.data). */
const KEY_BYTES = layout.count_key.size - layout.count_key.data;

/** Entries, largest count first; `dropped`: hits not counted because the count map was full. */
export type CountSnapshot = CountEntry[] & { dropped: number; total: number };

export interface CountOptions extends SummaryOptions {
  /**
   * What to count by: `comm` (default), `pid`, `probe` (one total),
   * `cgroup` (keys are cgroup ids, labels their paths), `container` (keys
   * are container ids, '' for tasks in no container), or any argument
   * expression (`flags`, `filename`, `file->f_flags`): numbers or strings
   * (the first 16 bytes).
   */
  by?: string;
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

function probeOptions(o: CountOptions, args?: string[]): ProbeOptions {
  const { ret: _ret, by: _by, signal: _signal, ...rest } = o;
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
    const plan = this.probe.plans[0];
    // Equal keys are merged: a short string key may carry stale bytes after its NUL.
    const merged = new Map<string, CountEntry>();
    // By container: the kernel counts by cgroup; the cgroups of one container add up.
    const by = this.by === 'container' ? 'container' : this.countBy;
    for (let i = 0; i < values.length; i++) {
      const entry = decodeKey(keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES), by, plan, this.probe.name);
      const id = `${typeof entry.key}:${String(entry.key)}`;
      const seen = merged.get(id);
      if (seen) seen.count += values[i];
      else merged.set(id, { ...entry, count: values[i] });
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

/** A log2 histogram computed in the kernel. Own it: close() detaches it. */
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
  ) {
    super(session, probes, main);
  }

  protected read(): HistogramSnapshot {
    const sum = this.session.histSum(this.main);
    return histogramSnapshot(this.session.hist(this.main), { signed: this.signed, unit: this.unit, dropped: this.dropped, sum });
  }

  protected clear(): void {
    this.session.resetHist(this.main);
  }
}

/** Keys the kernel counts by itself; `container` is counted by cgroup and added up by container here. */
const BY_TASK: Record<string, CountBy> = { comm: CountBy.Comm, pid: CountBy.Pid, probe: CountBy.Probe, cgroup: CountBy.Cgroup, container: CountBy.Cgroup };

/**
 * Counts the hits of `target` in the kernel, by comm (default), pid, probe,
 * cgroup, container or the value of an argument expression.
 */
export function countBy(target: TargetSpec, opts: CountOptions = {}): Counter {
  const by = opts.by ?? 'comm';
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
 * A log2 histogram of a numeric argument or return value (`count` of
 * `syscall:write`, `ret` of `syscall:read`), computed in the kernel.
 */
export function histogram(target: TargetSpec, expr: string, opts: SummaryOptions = {}): Histogram {
  if (typeof expr !== 'string' || expr.trim() === '') throw new OptionError('histogram needs an expression, e.g. count or ret');
  const o = checkSummaryOptions(opts);
  const session = Session.get();
  const v = valueTarget(target, expr, !!o.ret);
  const probe = attachTo(v.target, probeOptions(o, [v.expr]), { flags: CFG_HIST }, session);
  const plan = probe.plans[0];
  if (plan.kind === 'string' || plan.kind === 'bytes') {
    probe.close();
    throw new OptionError(`a histogram needs a number: ${expr} is a ${plan.type} (count by it instead)`);
  }
  return abortable(new Histogram(session, [probe], probe, probe.name, undefined, expr, plan.kind === 'i32' || plan.kind === 'i64'), o.signal);
}

/** Entry and return probes of one latency histogram share this id in the kernel's `starts` map. */
let nextPair = 1;

/**
 * The time each call of a kernel or user function, or a syscall, takes, per
 * thread (entry to return), as a log2 histogram in nanoseconds: a kprobe and
 * a kretprobe, a uprobe and a uretprobe, or the sys_enter/sys_exit
 * tracepoints of a syscall. `filter` applies at entry (the arguments are there).
 */
export function latency(target: TargetSpec, opts: SummaryOptions = {}): Histogram {
  const o = checkSummaryOptions(opts);
  const t = toTarget(target, false);
  if (t.kind === 'tracepoint') throw new OptionError(`latency needs a function or a syscall: tracepoint ${t.name} has no return to pair with`);
  const session = Session.get();
  const pair = nextPair++;
  const base = probeOptions(o);
  const start = attachTo(withReturn(t, false), base, { flags: CFG_LAT_START, pair }, session);
  let end: Probe;
  try {
    // The argument filter ran at entry; the return side keeps only the task filters.
    end = attachTo(withReturn(t, true), { ...base, filter: undefined }, { flags: CFG_LAT_END | CFG_HIST, pair }, session);
  } catch (e) {
    start.close();
    throw e;
  }
  return abortable(new Histogram(session, [start, end], end, formatTarget(withReturn(t, false)), 'ns', 'latency', false), o.signal);
}
