/**
 * The public ways to attach: kprobes, kretprobes, syscalls and tracepoints.
 * Each validates its options, resolves what the kernel must fetch (from BTF
 * and tracepoint formats, lib/fetch), and asks the session to attach it.
 */
import { currentArch } from './arch';
import { CFG_KSTACK, CFG_USTACK, CountBy, FetchArg, MAX_ARGS, MAX_STR, Source, isVariable } from './abi';
import { Btf } from './btf';
import type { ArgPlan, TraceEvent } from './decode';
import { ExpressionError, KprobeNodeError, NotFoundError, OptionError, UnsupportedError, closest } from './errors';
import { checkPrivileges, kernelFeatures, requireKprobes } from './features';
import {
  CompiledArg,
  ProbeContext,
  compileArgs,
  defaultArgs,
  knownWithoutBtf,
  kprobeContext,
  kretprobeContext,
  parseFilter,
  rawContext,
  tracepointContext,
} from './fetch';
import { toPlan } from './plans';
import type { Probe } from './probe';
import { isGlob } from './glob';
import { clonesOf, kallsymsReadable, kernelSymbolSuggestions, moduleHolding, probeableFunctions, symbolModule } from './kallsyms';
import { tracepointAlternatives } from './list';
import { NativeTracer, isNativeError } from './native';
import { Attacher, ProbePart, Session, toTypedError } from './session';
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
  /**
   * Pin the probe under this name (/sys/fs/bpf/kprobe-node/<name>): it keeps
   * tracing after this process exits, until `unpin(name)` (see pinProbe).
   */
  pin?: string;
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
/** A function name pattern: the symbol characters and the wildcards `*`, `?`, `[...]`. */
const GLOB_SYMBOL = /^[A-Za-z0-9_.*?[\]!-]+$/;
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

/** Options of kprobes that may name many functions (`vfs_*`). */
export interface KprobeOptions extends ProbeOptions {
  /** Called as functions are attached, `done` of `total` (wildcards attach one by one where kprobe_multi is missing). */
  onProgress?: (done: number, total: number) => void;
}

/** Why kprobe_multi failed once with EOPNOTSUPP: later wildcards go straight to one kprobe per function. */
let multiUnsupported: string | undefined;

/**
 * The kallsyms names to attach for `fn`: the functions a pattern matches,
 * the function itself, or its compiler clones when only those exist.
 * Unknown names fail here, before anything else, with what to do instead.
 */
function resolveFunctions(fn: string, explain: string[], warnings: string[]): string[] {
  if (isGlob(fn)) {
    const matches = probeableFunctions(fn).map((f) => f.name);
    if (!matches.length) {
      if (!kallsymsReadable()) throw new NotFoundError(`cannot expand ${fn}: /proc/kallsyms is not readable`);
      throw new NotFoundError(`no kernel function that can be probed matches ${fn}`, kernelSymbolSuggestions(fn.replace(/[*?[\]!]/g, '')));
    }
    explain.push(`${fn} matches ${matches.length} function${matches.length > 1 ? 's' : ''} that can be probed (kallsyms text symbols, less the kprobe blacklist, within available_filter_functions where readable)`);
    return matches;
  }
  // Without kallsyms (locked down) the kernel itself is the judge, at attach.
  if (!kallsymsReadable()) return [fn];
  const mod = symbolModule(fn);
  if (mod !== undefined) {
    explain.push(`${fn} is in kallsyms, in ${mod ? `module ${mod}` : 'the kernel image'}`);
    return [fn];
  }
  const clones = clonesOf(fn);
  if (clones.length) {
    warnings.push(
      `${fn} is not in kallsyms, its compiler clone${clones.length > 1 ? 's are' : ' is'}: attached to ${clones.join(', ')} ` +
        '(calls the compiler inlined instead of calling a clone are not seen)',
    );
    explain.push(`${fn} has no symbol of its own; the compiler specialised it into ${clones.join(', ')} (GCC's .isra/.constprop/.part clones), which are probed instead`);
    return clones;
  }
  const hint = moduleHolding(fn);
  if (hint) {
    throw new NotFoundError(
      `no kernel function ${fn} in the running kernel or a loaded module; it ${hint.certain ? 'is' : 'may be'} in module ${hint.module}, ` +
        `which is not loaded: load it (modprobe ${hint.module}) and try again`,
    );
  }
  if (kernelFeatures().btf && Btf.findFunctionAnywhere(fn)) {
    throw new NotFoundError(
      `${fn} has a BTF prototype but no symbol in kallsyms: the compiler inlined it into every caller (or it is in a module that has been unloaded), so it has no entry to probe; probe a caller instead`,
      kernelSymbolSuggestions(fn),
    );
  }
  throw new NotFoundError(`no kernel function ${fn} that can be probed`, kernelSymbolSuggestions(fn));
}

/** Kprobes are missing: say so, and name the tracepoints that might stand in for `fn`. */
function requireKprobesFor(fn: string, what: string): void {
  if (kernelFeatures().kprobes) return;
  try {
    requireKprobes(what);
  } catch (e) {
    if (!(e instanceof UnsupportedError)) throw e;
    const sys = /^(?:__(?:x64|ia32|arm64|s390x)_|__se_|__do_)?sys_(\w+)$/.exec(fn);
    const alts = isGlob(fn) ? [] : tracepointAlternatives(fn);
    let hint: string;
    if (isGlob(fn)) hint = ` kprobe-node list '${fn}' shows the tracepoints and syscalls that match too.`;
    else if (sys) hint = ` For this syscall use --syscall ${sys[1]} (attachSyscall('${sys[1]}')): it uses the syscall tracepoints here.`;
    else if (alts.length) {
      const category = alts[alts.length - 1].split(':')[0];
      hint = ` Tracepoints that may stand in for ${fn}: ${alts.slice(0, 6).join(', ')}${alts.length > 6 ? ` (${alts.length} in all: kprobe-node list 'tracepoint:${category}:*')` : ''}.`;
    } else hint = ` No tracepoint shares ${fn}'s name or prefix; kprobe-node list 'tracepoint:*' lists them all.`;
    throw new UnsupportedError('kprobes', e.message + hint);
  }
}

/**
 * Attaches each function as its own part (probe id, config, events named
 * `kprobe:<function>`): one kprobe_multi link where the kernel has it,
 * else one kprobe each. A function that cannot be compiled or attached is
 * skipped and reported; only none attaching at all fails.
 */
/** `{ pin }`: the probe is attached by pinProbe, in a session of its own. */
function pinned(opts: ProbeOptions & { pin: string }, target: string, ret: boolean): Probe {
  const { pin, ...rest } = opts;
  // Required here: lib/pin.ts attaches through this module.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { pinProbe } = require('./pin') as typeof import('./pin');
  return pinProbe(pin, target, { ...rest, ret });
}

function kprobe(fn: string, opts: KprobeOptions | undefined, ret: boolean, summary?: SummaryConfig): Probe {
  if (opts?.pin !== undefined && !summary) return pinned(opts as KprobeOptions & { pin: string }, `kprobe:${fn}`, ret);
  const kind = ret ? 'kretprobe' : 'kprobe';
  const glob = typeof fn === 'string' && isGlob(fn);
  checkName(`${kind} function`, fn, glob ? GLOB_SYMBOL : SYMBOL, 'vfs_read or vfs_*');
  const o = checkOptions(opts);
  if (opts?.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new OptionError('onProgress must be a function');
  const progress = opts?.onProgress;
  if (glob && summary) throw new OptionError(`${fn}: counts, histograms and latency take one function, not a pattern`);
  checkPrivileges();
  const explain: string[] = [];
  const warnings: string[] = [];
  const fns = resolveFunctions(fn, explain, warnings);
  requireKprobesFor(fn, `${kind} ${fn}`);
  const name = `${kind}:${fn}`;
  const skipped: Array<{ name: string; reason: string }> = [];

  const parts: ProbePart[] = [];
  const attached: string[] = [];
  let noBtf = 0;
  let firstError: unknown;
  for (const f of fns) {
    try {
      const w: string[] = [];
      const c = compile(functionContext(f, ret, w), o, undefined, summary);
      if (w.length) noBtf++;
      if (fns.length === 1) warnings.push(...w);
      parts.push({ name: `${kind}:${f}`, plans: c.plans, config: c.config });
      attached.push(f);
    } catch (e) {
      if (!(e instanceof KprobeNodeError) || fns.length === 1) throw e;
      firstError ??= e;
      skipped.push({ name: f, reason: e.message.split('\n')[0] });
    }
  }
  if (!parts.length) throw firstError;
  if (noBtf && fns.length > 1) warnings.push(`${noBtf} of ${fns.length} functions have no BTF type information: their arguments are raw registers (arg0..arg5)`);

  const attachParts = (t: NativeTracer, ids: number[]): number[] => {
    const total = attached.length;
    if (total > 1 && !multiUnsupported) {
      try {
        const link = t.attachKprobeMulti(attached, ids, ret);
        explain.push(`strategy: one kprobe_multi link for all ${total} functions, each with its own cookie`);
        progress?.(total, total);
        return [link];
      } catch (e) {
        const why = toTypedError(e, 'attach kprobe_multi').message;
        if (isNativeError(e) && /^(EOPNOTSUPP|ENOTSUPP|ENOSYS|EINVAL)$/.test(e.code)) multiUnsupported = why;
        explain.push(`kprobe_multi: ${why}; attaching one ${kind} per function instead`);
      }
    } else if (total > 1) explain.push(`kprobe_multi is not available here (${multiUnsupported}): one ${kind} per function`);
    const links: number[] = [];
    let error: unknown;
    for (let i = 0; i < total; i++) {
      try {
        links.push(t.attachKprobe(attached[i], ret, ids[i], 0));
      } catch (e) {
        if (total === 1) throw e;
        error ??= e;
        skipped.push({ name: attached[i], reason: toTypedError(e, `attach ${kind}:${attached[i]}`).message });
      }
      if (progress && (i % 16 === 15 || i === total - 1)) progress(i + 1, total);
    }
    if (!links.length) throw toTypedError(error, `attach ${name}: none of the ${total} functions could be attached`);
    if (total > 1 || fns.length > 1) explain.push(`strategy: ${links.length} ${kind}s, one per function`);
    else explain.push(`strategy: a ${kind} on ${attached[0]}${attached[0] !== fn ? ` (for ${fn})` : ''}, through the perf kprobe PMU`);
    return links;
  };

  const probe = Session.get().attach({
    name,
    kind,
    strategy: fns.length === 1 ? `${kind} ${fns[0]}` : `${kind} ${fns.length} functions`,
    plans: parts[0].plans,
    config: parts[0].config,
    warnings,
    attachers: [],
    parts,
    attachParts,
    describe: `attach ${name}`,
    notFound: () => new NotFoundError(`no kernel function ${fn} that can be probed`, kernelSymbolSuggestions(fn)),
  });
  if (skipped.length) warnings.push(`${skipped.length} of ${fns.length} functions could not be attached and were skipped (probe.skipped says why)`);
  explain.push(
    `calls from places the compiler inlined ${glob ? 'a function' : fn} into do not reach a ${kind}, and kallsyms cannot tell which those are ` +
      '(a function is often inlined into some callers and called from others): when events seem missing, probe the caller or the syscall',
  );
  probe.explain = explain.join('\n');
  probe.skipped = skipped;
  if (fns.length > 1 || attached[0] !== fn) probe.partPlans = new Map(parts.map((p) => [p.name, p.plans]));
  return probe;
}

/** Traces every call of the kernel function `fn`; events carry its arguments by name. */
export function attachKprobe(fn: string, opts?: KprobeOptions): Probe {
  return kprobe(fn, opts, false);
}

/** Traces every return from the kernel function `fn`; events carry `ret`, typed. */
export function attachKretprobe(fn: string, opts?: KprobeOptions): Probe {
  return kprobe(fn, opts, true);
}

/**
 * The probe context of a tracepoint record; syscall tracepoints' pointers are
 * user memory. Kernel BTF (~13 MB in memory) is read only when something needs
 * it: expressions (`typed`), or fields whose C types say too little alone.
 */
export function tracepointFormatContext(format: TracepointFormat, typed = true): ProbeContext {
  const plain = !typed && format.fields.every((f) => knownWithoutBtf(f.type));
  return tracepointContext(`${format.category}:${format.name}`, format.fields, {
    syscall: format.category === 'syscalls',
    ...(plain ? { btf: null } : {}),
  });
}

/** Whether options ask for more than a tracepoint's fields as they are. */
function needsTypes(o: ProbeOptions, summary?: unknown): boolean {
  return !!(o.args?.length || (o.filter && o.filter.trim()) || summary);
}

/** Traces a tracepoint, `category:name` (e.g. `sched:sched_process_exec`); events carry its fields. */
export function attachTracepoint(tracepoint: string, opts?: ProbeOptions): Probe {
  return tracepointProbe(tracepoint, opts);
}

function tracepointProbe(tracepoint: string, opts: ProbeOptions | undefined, summary?: SummaryConfig): Probe {
  if (opts?.pin !== undefined && !summary) return pinned(opts as ProbeOptions & { pin: string }, `tracepoint:${tracepoint}`, false);
  checkName('tracepoint', tracepoint, TRACEPOINT, 'category:name');
  const o = checkOptions(opts);
  checkPrivileges();
  const [category, name] = tracepoint.split(':');
  const format = readFormat(category, name);
  return attachTracepointFormat(format, compile(tracepointFormatContext(format, needsTypes(o, summary)), o, undefined, summary), `tracepoint:${tracepoint}`);
}

function attachTracepointFormat(format: TracepointFormat, compiled: Compiled, name: string): Probe {
  const tp = `${format.category}:${format.name}`;
  const probe = Session.get().attach({
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${tp}`,
    plans: compiled.plans,
    config: compiled.config,
    attachers: [(t, cookie) => t.attachTracepoint(format.category, format.name, cookie)],
    describe: `attach tracepoint ${tp}`,
  });
  probe.explain = `tracepoint ${tp}: a hook the kernel defines, with the fields of its format file`;
  return probe;
}

/** The kernel function behind a syscall on this architecture (`openat` -> `__x64_sys_openat`). */
export function syscallFunction(name: string): string {
  return currentArch().syscallPrefix + name;
}

/**
 * A syscall function receives the user's registers as `struct pt_regs *`
 * (its first argument). A fetch program written for the sys_enter
 * tracepoint reads argument i from the record at 16 + 8i; this moves that
 * first read to the matching register in pt_regs.
 */
function viaPtRegs(f: FetchArg): FetchArg {
  if (f.source !== Source.Ctx) return f;
  const at = f.steps.length ? f.steps[0].offset : (f.offset ?? 0);
  const reg = currentArch().syscallArgs[(at - 16) / 8]?.offset;
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
  if (opts?.pin !== undefined && !summary) {
    const { ret, ...rest } = opts as SyscallOptions & { pin: string };
    return pinned(rest as ProbeOptions & { pin: string }, `syscall:${name}`, ret === true);
  }
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
    else if (enter) compiled = compile(tracepointFormatContext(enter, needsTypes(o, summary)), o, viaPtRegs, summary);
    else compiled = compile(functionContext(fn, false, warnings), o, undefined, summary);
    const probe = Session.get().attach({
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
    probe.explain =
      `this kernel has kprobes: a ${ret ? 'kretprobe' : 'kprobe'} on ${fn}, the syscall's function on ${process.arch}` +
      (ret ? '; the return value is its result' : `; arguments are read from the user's registers it receives${enter ? `, as the fields of syscalls:sys_enter_${name} name them` : ''}`);
    return probe;
  }
  const format = ret ? syscallFormat(name, true) : enter;
  if (!format) throw unknownSyscall(name, ` (no tracepoint syscalls:sys_${ret ? 'exit' : 'enter'}_${name})`);
  const compiled = compile(tracepointFormatContext(format, needsTypes(o, summary)), o, undefined, summary);
  // The exit tracepoint's `ret` field is the return value: events carry it as `ret`.
  if (ret && !o.args?.length) compiled.plans = compiled.plans.map((p) => (p.name === 'ret' ? { ...p, isReturn: true } : p));
  const probe = attachTracepointFormat(format, compiled, probeName);
  probe.explain = `no kprobes on this kernel (${kernelFeatures().release}): the tracepoint syscalls:${format.name} instead, which every syscall passes through`;
  return probe;
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
