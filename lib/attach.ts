/**
 * The public ways to attach: kprobes, kretprobes, syscalls and tracepoints.
 * Each validates its options, resolves what the kernel must fetch (from BTF
 * and tracepoint formats, lib/fetch), and asks the session to attach it.
 */
import { CFG_KSTACK, CFG_USTACK, CountBy, FetchArg, MAX_ARGS, MAX_STR, Source, isVariable } from './abi';
import { Btf } from './btf';
import type { ArgPlan, TraceEvent } from './decode';
import { ExpressionError, NotFoundError, OptionError, closest } from './errors';
import { checkPrivileges, kernelFeatures, requireKprobes } from './features';
import {
  CompiledArg,
  ProbeContext,
  compileArgs,
  defaultArgs,
  kprobeContext,
  kretprobeContext,
  parseFilter,
  rawContext,
  tracepointContext,
} from './fetch';
import { toPlan } from './plans';
import type { Probe } from './probe';
import { Attacher, Session } from './session';
import type { Target } from './target';
import { TracepointFormat, listTracepoints, readFormat } from './tracefs';

/** What a probe records, and which events it keeps (filters run in the kernel). */
export interface ProbeOptions {
  /** Only this process (tgid). */
  pid?: number;
  /** Only this thread. */
  tid?: number;
  /** Only this user id. */
  uid?: number;
  /** Only tasks with this command name (first 15 characters). */
  comm?: string;
  /**
   * Argument expressions, at most 8: `file->f_path.dentry->d_name.name`,
   * `size=count:u32`, `(struct sock *)arg0`. Default: every parameter by its type.
   */
  args?: string[];
  /** Kept only when this holds, tested in the kernel: `flags & 0x40 && count > 4096 && comm == "bash"`. */
  filter?: string;
  /** Longest string fetched for one argument: 1..4096, default 256. */
  stringSize?: number;
  /** Record the stack with each event: `event.kernelStack`, `event.userStack`. */
  stack?: 'kernel' | 'user' | 'both';
}

export interface SyscallOptions extends ProbeOptions {
  /** Trace the return (`sys_exit`) instead of the entry. */
  ret?: boolean;
}

/** Checks options before anything touches the kernel. */
export function checkOptions(opts: ProbeOptions | undefined): ProbeOptions {
  const o = opts ?? {};
  if (typeof o !== 'object') throw new OptionError('options must be an object');
  for (const key of ['pid', 'tid', 'uid'] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new OptionError(`${key} must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (o.comm !== undefined) {
    if (typeof o.comm !== 'string' || o.comm.length === 0) throw new OptionError('comm must be a non-empty string');
    if (o.comm.length > 15) throw new OptionError(`comm is at most 15 characters (the kernel's TASK_COMM_LEN), got "${o.comm}"`);
  }
  if (o.args !== undefined && (!Array.isArray(o.args) || o.args.some((a) => typeof a !== 'string'))) {
    throw new OptionError('args must be an array of expression strings');
  }
  if (o.args && o.args.length > MAX_ARGS) throw new OptionError(`at most ${MAX_ARGS} argument expressions per probe, got ${o.args.length}`);
  if (o.filter !== undefined && typeof o.filter !== 'string') throw new OptionError('filter must be a string');
  if (o.stack !== undefined && !['kernel', 'user', 'both'].includes(o.stack)) {
    throw new OptionError(`stack must be 'kernel', 'user' or 'both', got ${JSON.stringify(o.stack)}`);
  }
  if (o.stringSize !== undefined && (!Number.isInteger(o.stringSize) || o.stringSize < 1 || o.stringSize > MAX_STR)) {
    throw new OptionError(`stringSize must be an integer from 1 to ${MAX_STR}, got ${String(o.stringSize)}`);
  }
  return o;
}

function checkName(what: string, name: unknown, pattern: RegExp, example: string): string {
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new OptionError(`${what} must be a name like ${example}, got ${JSON.stringify(name)}`);
  }
  return name;
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const TRACEPOINT = /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/;

/** What compiling a probe's options gives: the plans and the kernel-side filters. */
export interface Compiled {
  plans: ArgPlan[];
  config: {
    pid?: number;
    tid?: number;
    uid?: number;
    comm?: string;
    flags?: number;
    countBy?: CountBy;
    pair?: number;
    filters: ReturnType<typeof parseFilter>['filters'];
  };
}

/**
 * A summary the kernel computes instead of emitting events (lib/aggregate.ts):
 * the CFG_COUNT / CFG_HIST / CFG_LAT_* flags, what to count by, and the id an
 * entry and a return probe share. Internal: the public attach functions never take it.
 */
export interface SummaryConfig {
  flags: number;
  countBy?: CountBy;
  pair?: number;
}

/**
 * Compiles argument expressions (or the defaults) and the filter against a
 * probe context. `returnArg`: the default return value goes to `event.ret`.
 */
export function compile(ctx: ProbeContext, o: ProbeOptions, remap: (f: FetchArg) => FetchArg = (f) => f, summary?: SummaryConfig): Compiled {
  const copts = { maxString: o.stringSize };
  const custom = o.args !== undefined && o.args.length > 0;
  // A summary fetches only the value it aggregates (the kernel reads the first argument), or nothing.
  const visible: CompiledArg[] = custom ? compileArgs(o.args as string[], ctx, copts) : summary ? [] : defaultArgs(ctx, copts);
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
  if (o.stack === 'kernel' || o.stack === 'both') task.flags = (task.flags ?? 0) | CFG_KSTACK;
  if (o.stack === 'user' || o.stack === 'both') task.flags = (task.flags ?? 0) | CFG_USTACK;
  if (summary) {
    task.flags = (task.flags ?? 0) | summary.flags;
    if (summary.countBy !== undefined) task.countBy = summary.countBy;
    // Counting by a string or byte argument keys on its bytes, not on where they are.
    if (summary.countBy === CountBy.Value && visible.length && isVariable(visible[0].fetch.store)) task.countBy = CountBy.String;
    if (summary.pair !== undefined) task.pair = summary.pair;
  }
  const plans = [...visible, ...hidden].map((a) => {
    const plan = toPlan(a, !custom && !!ctx.retval && a.expression === 'retval');
    return { ...plan, fetch: remap(plan.fetch) };
  });
  return { plans, config: task };
}

/** Compiler clones keep the source function's BTF under the plain name. */
function baseName(fn: string): string {
  return fn.replace(/\.(isra|constprop|part|cold|llvm|lto_priv)\.\d+.*$/, '');
}

/**
 * The probe context of a kernel function: its BTF prototype, or raw
 * registers with a warning when it has none.
 */
export function functionContext(fn: string, ret: boolean, warnings: string[]): ProbeContext {
  let f = null;
  if (kernelFeatures().btf) f = Btf.findFunctionAnywhere(baseName(fn));
  if (f) return ret ? kretprobeContext(f) : kprobeContext(f);
  warnings.push(`${fn} has no BTF type information: arguments are shown as raw registers (arg0..arg5)`);
  return rawContext(ret ? 'kretprobe' : 'kprobe', fn);
}

/** Close kernel symbols for a name that was not found (reads /proc/kallsyms). */
export function kernelSymbolSuggestions(name: string): string[] {
  // Required here so that start-up never pays for the 10 MB read.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('fs') as typeof import('fs');
  const names = new Set<string>();
  for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const parts = line.split(/\s+/);
    if (parts[1] === 't' || parts[1] === 'T') names.add(parts[2]);
  }
  const clones = [...names].filter((n) => n.startsWith(`${name}.`));
  return [...new Set([...clones, ...closest(name, names)])];
}

function kprobe(fn: string, opts: ProbeOptions | undefined, ret: boolean, summary?: SummaryConfig): Probe {
  const kind = ret ? 'kretprobe' : 'kprobe';
  checkName(`${kind} function`, fn, SYMBOL, 'vfs_read');
  const o = checkOptions(opts);
  checkPrivileges();
  requireKprobes(`${kind} ${fn}`);
  const warnings: string[] = [];
  const { plans, config } = compile(functionContext(fn, ret, warnings), o, undefined, summary);
  const name = `${kind}:${fn}`;
  return Session.get().attach({
    name,
    kind,
    strategy: `${kind} ${fn}`,
    plans,
    config,
    warnings,
    attachers: [(t, cookie) => t.attachKprobe(fn, ret, cookie, 0)],
    describe: `attach ${name}`,
    notFound: () => new NotFoundError(`no kernel function ${fn} that can be probed`, kernelSymbolSuggestions(fn)),
  });
}

/** Traces every call of the kernel function `fn`; events carry its arguments by name. */
export function attachKprobe(fn: string, opts?: ProbeOptions): Probe {
  return kprobe(fn, opts, false);
}

/** Traces every return from the kernel function `fn`; events carry `ret`, typed. */
export function attachKretprobe(fn: string, opts?: ProbeOptions): Probe {
  return kprobe(fn, opts, true);
}

/** The probe context of a tracepoint record; syscall tracepoints' pointers are user memory. */
export function tracepointFormatContext(format: TracepointFormat): ProbeContext {
  return tracepointContext(`${format.category}:${format.name}`, format.fields, { syscall: format.category === 'syscalls' });
}

/** Traces a tracepoint, `category:name` (e.g. `sched:sched_process_exec`); events carry its fields. */
export function attachTracepoint(tracepoint: string, opts?: ProbeOptions): Probe {
  return tracepointProbe(tracepoint, opts);
}

function tracepointProbe(tracepoint: string, opts: ProbeOptions | undefined, summary?: SummaryConfig): Probe {
  checkName('tracepoint', tracepoint, TRACEPOINT, 'category:name');
  const o = checkOptions(opts);
  checkPrivileges();
  const [category, name] = tracepoint.split(':');
  const format = readFormat(category, name);
  return attachTracepointFormat(format, compile(tracepointFormatContext(format), o, undefined, summary), `tracepoint:${tracepoint}`);
}

function attachTracepointFormat(format: TracepointFormat, compiled: Compiled, name: string): Probe {
  const tp = `${format.category}:${format.name}`;
  return Session.get().attach({
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${tp}`,
    plans: compiled.plans,
    config: compiled.config,
    attachers: [(t, cookie) => t.attachTracepoint(format.category, format.name, cookie)],
    describe: `attach tracepoint ${tp}`,
  });
}

/** The kernel function behind a syscall on this architecture (`openat` -> `__x64_sys_openat`). */
export function syscallFunction(name: string): string {
  const prefix: Record<string, string> = { x64: '__x64_sys_', arm64: '__arm64_sys_', s390x: '__s390x_sys_' };
  return (prefix[process.arch] ?? 'sys_') + name;
}

/** x86-64 `struct pt_regs` offsets of the syscall argument registers: di, si, dx, r10, r8, r9. */
const SYSCALL_ARG_REGS = [112, 104, 96, 56, 72, 64];

/**
 * A syscall function receives the user's registers as `struct pt_regs *`
 * (its first argument). A fetch program written for the sys_enter
 * tracepoint reads argument i from the record at 16 + 8i; this moves that
 * first read to the matching register in pt_regs.
 */
function viaPtRegs(f: FetchArg): FetchArg {
  if (f.source !== Source.Ctx) return f;
  const at = f.steps.length ? f.steps[0].offset : (f.offset ?? 0);
  const reg = SYSCALL_ARG_REGS[(at - 16) / 8];
  if (reg === undefined) throw new OptionError('this syscall field cannot be read from a kprobe on the syscall function');
  if (f.steps.length) return { ...f, source: Source.Reg, reg: 0, steps: [{ ...f.steps[0], offset: reg }, ...f.steps.slice(1)] };
  return { ...f, source: Source.Reg, reg: 0, offset: reg };
}

function syscallFormat(name: string, ret: boolean): TracepointFormat | undefined {
  try {
    return readFormat('syscalls', `sys_${ret ? 'exit' : 'enter'}_${name}`);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

function unknownSyscall(name: string, detail = ''): NotFoundError {
  const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
  return new NotFoundError(`no syscall ${name}${detail}`, closest(name, all.map((t) => t.name.slice('sys_enter_'.length))));
}

/** The return of a syscall function: a `long`. */
function syscallReturnContext(fn: string): ProbeContext {
  const btf = kernelFeatures().btf ? Btf.kernel() : undefined;
  const long = btf?.findBaseType('long');
  const ctx = rawContext('kretprobe', fn);
  if (ctx.retval && long) ctx.retval = { ...ctx.retval, type: long };
  return ctx;
}

/**
 * Traces a system call by name (`openat`), with its arguments by name. Uses a
 * kprobe on the syscall's function where the kernel has kprobes, and the
 * `syscalls:sys_enter_<name>` / `sys_exit_<name>` tracepoints otherwise.
 */
export function attachSyscall(name: string, opts?: SyscallOptions): Probe {
  return syscallProbe(name, opts);
}

function syscallProbe(name: string, opts: SyscallOptions | undefined, summary?: SummaryConfig): Probe {
  checkName('syscall', name, /^[a-z_][a-z0-9_]*$/, 'openat');
  const o = checkOptions(opts);
  checkPrivileges();
  const ret = opts?.ret === true;
  const enter = syscallFormat(name, false);
  const probeName = `syscall:${name}${ret ? ':return' : ''}`;
  if (kernelFeatures().kprobes) {
    const fn = syscallFunction(name);
    const warnings: string[] = [];
    let compiled: Compiled;
    if (ret) compiled = compile(syscallReturnContext(fn), o, undefined, summary);
    else if (enter) compiled = compile(tracepointFormatContext(enter), o, viaPtRegs, summary);
    else compiled = compile(functionContext(fn, false, warnings), o, undefined, summary);
    return Session.get().attach({
      name: probeName,
      kind: ret ? 'kretprobe' : 'kprobe',
      strategy: `${ret ? 'kretprobe' : 'kprobe'} ${fn}`,
      plans: compiled.plans,
      config: compiled.config,
      warnings,
      attachers: [(t, cookie) => t.attachKprobe(fn, ret, cookie, 0)],
      describe: `attach ${probeName} (${fn})`,
      notFound: () => unknownSyscall(name),
    });
  }
  const format = ret ? syscallFormat(name, true) : enter;
  if (!format) throw unknownSyscall(name, ` (no tracepoint syscalls:sys_${ret ? 'exit' : 'enter'}_${name})`);
  const compiled = compile(tracepointFormatContext(format), o, undefined, summary);
  // The exit tracepoint's `ret` field is the return value: events carry it as `ret`.
  if (ret && !o.args?.length) compiled.plans = compiled.plans.map((p) => (p.name === 'ret' ? { ...p, isReturn: true } : p));
  return attachTracepointFormat(format, compiled, probeName);
}

/**
 * Attaches a probe whose hits the kernel summarises (counts, histograms,
 * latency) instead of emitting events. Internal, for lib/aggregate.ts.
 */
export function attachSummary(target: Target, opts: ProbeOptions, summary: SummaryConfig): Probe {
  switch (target.kind) {
    case 'kprobe':
    case 'kretprobe':
      return kprobe(target.name, opts, target.kind === 'kretprobe', summary);
    case 'tracepoint':
      return tracepointProbe(target.name, opts, summary);
    case 'syscall':
      return syscallProbe(target.name, { ...opts, ret: target.ret }, summary);
  }
}

export type { Probe, TraceEvent };
