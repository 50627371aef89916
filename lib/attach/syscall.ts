/**
 * Syscalls by name: a kprobe on the syscall's function where the kernel has
 * kprobes, the syscalls:sys_enter_/sys_exit_ tracepoints otherwise. Either
 * way the arguments are named as the sys_enter_ tracepoint names them. A
 * pattern (`*open*`) attaches every syscall it matches, each as a part.
 */
import type { Probe } from '../core/probe';
import { ProbePart, Session } from '../core/session';
import { NotFoundError, OptionError } from '../errors';
import { FetchArg, Source } from '../sys/abi';
import { currentArch, syscallFunction } from '../sys/arch';
import { checkPrivileges, kernelFeatures } from '../sys/features';
import { globMatcher, isGlob } from '../sys/glob';
import { kernelSymbols } from '../sys/kallsyms';
import { closest } from '../sys/names';
import { TracepointFormat, listTracepoints, listTracepointsOrNone } from '../sys/tracefs';
import { Compiled, SummaryConfig, compile, needsTypes, partSummary } from './compile';
import { functionContext, syscallFormat, syscallReturnContext, tracepointFormatContext } from './contexts';
import { recoverCallerAtEntry } from './entry';
import { attachFunctions } from './kprobe';
import { GLOB_SYMBOL, SYSCALL, SyscallOptions, checkName, checkOptions } from './options';
import { Skipped, attachEach, compileParts, skippedWarning } from './parts';
import { attachFormat } from './tracepoint';

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

/** Syscall names: the sys_enter tracepoints and, on kernels that have them, the syscall functions. */
export function listSyscalls(): string[] {
  const names = new Set<string>();
  for (const t of listTracepointsOrNone()) if (t.category === 'syscalls' && t.name.startsWith('sys_enter_')) names.add(t.name.slice(10));
  const prefix = syscallFunction('');
  for (const fn of kernelSymbols(`${prefix}*`)) if (/^[a-z0-9_]+$/.test(fn.slice(prefix.length))) names.add(fn.slice(prefix.length));
  return [...names].sort();
}

function unknownSyscall(name: string, detail = ''): NotFoundError {
  const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
  return new NotFoundError(`no syscall ${name}${detail}`, closest(name, all.map((t) => t.name.slice('sys_enter_'.length))));
}

/** One syscall, compiled for how this kernel reaches it: its function (kprobes) or its tracepoint. */
interface SyscallPlan {
  compiled: Compiled;
  /** The syscall's function, on kernels with kprobes. */
  fn?: string;
  /** Its tracepoint, otherwise. */
  format?: TracepointFormat;
  warnings: string[];
  /** What --explain says of a stack taken at the function's entry. */
  entryNote?: string;
}

function planSyscall(name: string, ret: boolean, o: SyscallOptions, summary: SummaryConfig | undefined): SyscallPlan {
  const enter = syscallFormat(name, false);
  const warnings: string[] = [];
  if (kernelFeatures().kprobes) {
    const fn = syscallFunction(name);
    let compiled: Compiled;
    if (ret) compiled = compile(syscallReturnContext(fn), o, undefined, summary);
    else if (enter) compiled = compile(tracepointFormatContext(enter, needsTypes(o)), o, viaPtRegs, summary);
    else compiled = compile(functionContext(fn, false, warnings), o, undefined, summary);
    const entryNote = ret ? undefined : recoverCallerAtEntry(compiled.config, 'kernel', fn);
    return { compiled, fn, warnings, entryNote };
  }
  const format = ret ? syscallFormat(name, true) : enter;
  if (!format) throw unknownSyscall(name, ` (no tracepoint syscalls:sys_${ret ? 'exit' : 'enter'}_${name})`);
  const compiled = compile(tracepointFormatContext(format, needsTypes(o)), o, undefined, summary);
  // The exit tracepoint's `ret` field is the return value: events carry it as `ret`.
  if (ret && !o.args?.length) compiled.plans = compiled.plans.map((p) => (p.name === 'ret' ? { ...p, isReturn: true } : p));
  return { compiled, format, warnings };
}

/** A syscall's entry (or, with `ret`, its return), or every syscall a pattern matches, in `session`. */
export function attachSyscallTarget(name: string, opts: SyscallOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  if (typeof name === 'string' && isGlob(name)) return attachSyscalls(name, opts, session, summary);
  checkName('syscall', name, SYSCALL, 'openat');
  const o = checkOptions(opts);
  checkPrivileges();
  const ret = o.ret === true;
  const probeName = `syscall:${name}${ret ? ':return' : ''}`;
  const plan = planSyscall(name, ret, o, summary);
  if (plan.fn !== undefined) {
    const fn = plan.fn;
    const probe = (session ?? Session.get()).attach({
      name: probeName,
      kind: ret ? 'kretprobe' : 'kprobe',
      strategy: `${ret ? 'kretprobe' : 'kprobe'} ${fn}`,
      parts: [{ name: probeName, plans: plan.compiled.plans, config: plan.compiled.config }],
      attach: (t, [id]) => [t.attachKprobe(fn, ret, id, 0)],
      warnings: plan.warnings,
      describe: `attach ${probeName} (${fn})`,
      notFound: () => unknownSyscall(name),
    });
    const enter = syscallFormat(name, false);
    probe.explain =
      `this kernel has kprobes: a ${ret ? 'kretprobe' : 'kprobe'} on ${fn}, the syscall's function on ${process.arch}` +
      (ret ? '; the return value is its result' : `; arguments are read from the user's registers it receives${enter ? `, as the fields of syscalls:sys_enter_${name} name them` : ''}`) +
      (plan.entryNote ? `\n${plan.entryNote}` : '');
    return probe;
  }
  const format = plan.format as TracepointFormat;
  const probe = attachFormat(format, plan.compiled, probeName, session);
  probe.explain = `no kprobes on this kernel (${kernelFeatures().release}): the tracepoint syscalls:${format.name} instead, which every syscall passes through`;
  return probe;
}

/**
 * Every syscall `pattern` matches, `syscall:<pattern>`: one kprobe_multi link
 * (or a kprobe each) on their functions where the kernel has kprobes, their
 * tracepoints otherwise. Events name their own syscall (`syscall:openat`).
 */
function attachSyscalls(pattern: string, opts: SyscallOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  checkName('syscall pattern', pattern, GLOB_SYMBOL, '*open*');
  const o = checkOptions(opts);
  checkPrivileges();
  const ret = o.ret === true;
  const suffix = ret ? ':return' : '';
  const match = globMatcher(pattern);
  // Without kprobes only the syscalls with tracepoints can be traced.
  const prefix = ret ? 'sys_exit_' : 'sys_enter_';
  const all = kernelFeatures().kprobes
    ? listSyscalls()
    : listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith(prefix)).map((t) => t.name.slice(prefix.length));
  const names = all.filter(match).sort();
  if (!names.length) throw new NotFoundError(`no syscall matches ${pattern}`, closest(pattern.replace(/[*?[\]!]/g, ''), all));
  const plans = new Map<string, SyscallPlan>();
  const { parts, compiled, skipped } = compileParts(names, (n): ProbePart => {
    const plan = planSyscall(n, ret, o, partSummary(summary, n));
    plans.set(n, plan);
    return { name: `syscall:${n}${suffix}`, key: n, plans: plan.compiled.plans, config: plan.compiled.config };
  });
  const kprobes = kernelFeatures().kprobes;
  let strategy = '';
  let late: Skipped[] = [];
  const warnings: string[] = [];
  const name = `syscall:${pattern}${suffix}`;
  const probe = (session ?? Session.get()).attach({
    name,
    kind: kprobes ? (ret ? 'kretprobe' : 'kprobe') : 'tracepoint',
    strategy: `${compiled.length} syscalls`,
    parts,
    attach: (t, cookies) => {
      // What failed to attach is named by its syscall, as the parts are.
      const bySyscall = (skipped: Skipped[], what: string[]) => skipped.map((x) => ({ ...x, name: compiled[what.indexOf(x.name)] ?? x.name }));
      if (kprobes) {
        const fns = compiled.map((n) => plans.get(n)?.fn as string);
        const done = attachFunctions(t, fns, cookies, ret);
        late = bySyscall(done.skipped, fns);
        strategy = done.strategy;
        return done.links;
      }
      const tps = compiled.map((n) => (plans.get(n)?.format as TracepointFormat).name);
      const done = attachEach(tps, cookies, (tp, cookie) => t.attachTracepoint('syscalls', tp, cookie), { kind: 'tracepoint', things: 'tracepoints' });
      late = bySyscall(done.skipped, tps);
      strategy = 'strategy: one tracepoint link per syscall';
      return done.links;
    },
    warnings,
    describe: `attach ${name}`,
  });
  probe.skipped = [...skipped, ...late];
  warnings.push(...skippedWarning(probe.skipped, names.length, 'syscalls'));
  const failed = new Set(late.map((x) => x.name));
  probe.partPlans = new Map(parts.filter((p) => !failed.has(p.key as string)).map((p) => [p.name, p.plans]));
  probe.explain = [
    `${pattern} matches ${names.length} syscall${names.length > 1 ? 's' : ''}`,
    kprobes ? `this kernel has kprobes: their functions (${syscallFunction('')}*)` : `no kprobes on this kernel (${kernelFeatures().release}): their syscalls:sys_${ret ? 'exit' : 'enter'}_* tracepoints`,
    ...strategy.split('\n'),
  ].join('\n');
  return probe;
}
