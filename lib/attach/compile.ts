/**
 * From a probe's options to what the kernel runs and the decoder reads: the
 * argument plans (fetch programs and how to show each value) and the probe's
 * config (task filters, value filters, stacks, summary flags).
 */
import { BucketSpec, CFG_KSTACK, CFG_NOT_SELF, CFG_USTACK, CountBy, FetchArg, MAX_ARGS, PidNamespace, isVariable } from '../sys/abi';
import { ExpressionError, OptionError } from '../errors';
import { CompiledArg, ProbeContext, compileArgs, defaultArgs, parseFilter } from '../fetch';
import type { ArgPlan } from '../core/decode';
import { toPlan } from '../core/plans';
import { cgroupDirectory } from '../sys/cgroups';
import { pidNamespace } from '../sys/namespaces';
import type { ProbeOptions } from './options';

/** What compiling a probe's options gives: the plans and the kernel-side filters. */
export interface Compiled {
  plans: ArgPlan[];
  config: {
    pid?: number;
    tid?: number;
    uid?: number;
    comm?: string;
    pidns?: PidNamespace;
    cgroup?: string;
    flags?: number;
    countBy?: CountBy;
    pair?: number;
    buckets?: BucketSpec;
    filters: ReturnType<typeof parseFilter>['filters'];
    /** Where the return address is at a function's entry (lib/attach/entry.ts). */
    callerReg?: number;
    callerDeref?: boolean;
  };
}

/**
 * A summary the kernel computes instead of emitting events (lib/summary/):
 * the CFG_COUNT / CFG_HIST / CFG_LAT_* flags, what to count by, and the id an
 * entry and a return probe share. Internal: the public attach functions never take it.
 */
export interface SummaryConfig {
  flags: number;
  countBy?: CountBy;
  /**
   * The latency pair id; for a probe with parts (a pattern), one per part,
   * given by the part's key (its function or syscall), which the entry and
   * the return probe share.
   */
  pair?: number | ((key: string) => number);
  /** With CFG_COUNT: count the bucket of the value (a histogram in the count map). */
  buckets?: BucketSpec;
}

/** The summary of one part (`key`: its function, tracepoint or syscall): the pair resolved. */
export function partSummary(summary: SummaryConfig | undefined, key: string): SummaryConfig | undefined {
  if (!summary || typeof summary.pair !== 'function') return summary;
  return { ...summary, pair: summary.pair(key) };
}

/**
 * Compiles argument expressions (or the defaults) and the filter against a
 * probe context. `remap` rewrites each fetch program (syscalls read through
 * pt_regs); a summary fetches only the value it aggregates, or nothing.
 */
export function compile(ctx: ProbeContext, o: ProbeOptions, remap: (f: FetchArg) => FetchArg = (f) => f, summary?: SummaryConfig): Compiled {
  const copts = { maxString: o.stringSize };
  const custom = o.args !== undefined && o.args.length > 0;
  const visible: CompiledArg[] = custom ? compileArgs(o.args as readonly string[], ctx, copts) : summary ? [] : defaultArgs(ctx, copts);
  let hidden: CompiledArg[] = [];
  const task: Compiled['config'] = { filters: [] };
  if (o.filter !== undefined && o.filter.trim() !== '') {
    const f = parseFilter(o.filter, ctx, { ...copts, args: visible });
    hidden = f.args;
    task.filters = f.filters;
    for (const key of ['pid', 'tid', 'uid', 'comm'] as const) if (f[key] !== undefined) (task as Record<string, unknown>)[key] = f[key];
  }
  if (visible.length + hidden.length > MAX_ARGS) {
    throw new ExpressionError(o.filter ?? '', 0, `arguments and filter together fetch ${visible.length + hidden.length} values; at most ${MAX_ARGS}`);
  }
  for (const key of ['pid', 'tid', 'uid', 'comm'] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (task[key] !== undefined && task[key] !== v) throw new OptionError(`${key} is given twice, as ${String(v)} and in the filter as ${String(task[key])}`);
    (task as Record<string, unknown>)[key] = v;
  }
  if (o.excludeSelf) task.flags = (task.flags ?? 0) | CFG_NOT_SELF;
  // In a container, pids (in filters and in events) are the container's.
  const pidns = pidNamespace();
  if (pidns !== undefined) task.pidns = pidns;
  if (o.cgroup !== undefined) task.cgroup = cgroupDirectory(o.cgroup);
  if (o.stack === 'kernel' || o.stack === 'both') task.flags = (task.flags ?? 0) | CFG_KSTACK;
  if (o.stack === 'user' || o.stack === 'both') task.flags = (task.flags ?? 0) | CFG_USTACK;
  if (summary) {
    task.flags = (task.flags ?? 0) | summary.flags;
    if (summary.countBy !== undefined) task.countBy = summary.countBy;
    // Counting by a string or byte argument keys on its bytes, not on where they are.
    if (summary.countBy === CountBy.Value && visible.length && isVariable(visible[0].fetch.store)) task.countBy = CountBy.String;
    if (typeof summary.pair === 'number') task.pair = summary.pair;
    // A histogram's value is signed or not as its type is; latency (no argument) is not.
    if (summary.buckets) task.buckets = { ...summary.buckets, signed: visible.length > 0 && visible[0].decode.signed };
  }
  const plans = [...visible, ...hidden].map((a) => {
    const plan = toPlan(a, !custom && !!ctx.retval && a.expression === 'retval');
    return { ...plan, fetch: remap(plan.fetch) };
  });
  return { plans, config: task };
}

/**
 * Whether options ask for more than a tracepoint's fields as they are (and so
 * need kernel BTF). A summary fetches only what `args` names: counting by
 * comm, pid or probe, or timing, fetches nothing.
 */
export function needsTypes(o: ProbeOptions): boolean {
  return !!(o.args?.length || (o.filter && o.filter.trim()));
}
