/**
 * Kprobes and kretprobes on kernel functions, one or many (`vfs_*`): which
 * names to attach (kallsyms, clones, modules), their contexts from BTF, and
 * one kprobe_multi link where the kernel has it, else one kprobe each.
 */
import { Btf } from '../btf';
import type { Probe } from '../core/probe';
import { ProbePart, Session } from '../core/session';
import { NotFoundError, UnsupportedError } from '../errors';
import { isUnsupportedErrno, toTypedError } from '../sys/errno';
import { checkPrivileges, kernelFeatures, requireKprobes } from '../sys/features';
import { isGlob } from '../sys/glob';
import { clonesOf, kallsymsReadable, kernelSymbolSuggestions, moduleHolding, probeableFunctions, symbolModule } from '../sys/kallsyms';
import { editDistance } from '../sys/names';
import type { NativeTracer } from '../sys/native';
import { listTracepointsOrNone } from '../sys/tracefs';
import { SummaryConfig, compile, partSummary } from './compile';
import { attachEach, compileParts, skippedWarning } from './parts';
import { functionContext } from './contexts';
import { recoverCallerAtEntry } from './entry';
import { GLOB_SYMBOL, KprobeOptions, SYMBOL, checkName, checkOptions } from './options';

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

/**
 * Tracepoints that may stand in for kernel function `fn` on a kernel without
 * kprobes: ones with its very name, then the category its first word names
 * (`tcp_sendmsg` -> tcp:*, `sched_fork` -> sched:*). Empty when none match.
 */
export function tracepointAlternatives(fn: string): string[] {
  const all = listTracepointsOrNone();
  const exact = all.filter((t) => t.name === fn).map((t) => `${t.category}:${t.name}`);
  const word = /^_*([a-z0-9]+)_/.exec(fn)?.[1];
  const category = word ? all.filter((t) => t.category === word && t.name !== fn) : [];
  // The most alike first: sched_fork -> sched:sched_process_fork.
  const score = (name: string) => editDistance(fn, name) - (name.includes(fn.slice(word ? word.length + 1 : 0)) ? 100 : 0);
  category.sort((a, b) => score(a.name) - score(b.name));
  return [...exact, ...category.map((t) => `${t.category}:${t.name}`)];
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

/** Why kprobe_multi failed once for lack of support: later patterns go straight to one kprobe per function. */
let multiUnsupported: string | undefined;

/** What attachFunctions reports besides the links. */
export interface FunctionsAttached {
  links: number[];
  /** Functions that could not be attached, and why. */
  skipped: Array<{ name: string; reason: string }>;
  /** How it was done, for `explain`. */
  strategy: string;
}

/**
 * Attaches kernel functions `fns` (each with its cookie `ids[i]`): one
 * kprobe_multi link where the kernel has it, else one kprobe each. A
 * function that cannot be attached is skipped; none attaching at all fails.
 */
export function attachFunctions(
  t: NativeTracer,
  fns: readonly string[],
  ids: readonly number[],
  ret: boolean,
  progress?: (done: number, total: number) => void,
): FunctionsAttached {
  const kind = ret ? 'kretprobe' : 'kprobe';
  const total = fns.length;
  const notes: string[] = [];
  if (total > 1 && !multiUnsupported) {
    try {
      const link = t.attachKprobeMulti([...fns], [...ids], ret);
      progress?.(total, total);
      return { links: [link], skipped: [], strategy: `strategy: one kprobe_multi link for all ${total} functions, each with its own cookie` };
    } catch (e) {
      const why = toTypedError(e, 'attach kprobe_multi').message;
      if (isUnsupportedErrno(e)) multiUnsupported = why;
      notes.push(`kprobe_multi: ${why}; attaching one ${kind} per function instead`);
    }
  } else if (total > 1) notes.push(`kprobe_multi is not available here (${multiUnsupported}): one ${kind} per function`);
  const { links, skipped } = attachEach(fns, ids, (fn, id) => t.attachKprobe(fn, ret, id, 0), { kind, things: 'functions' }, progress);
  const strategy = total > 1 ? `${links.length} ${kind}s, one per function` : `a ${kind} on ${fns[0]}, through the perf kprobe PMU`;
  return { links, skipped, strategy: [...notes, `strategy: ${strategy}`].join('\n') };
}

/** Forgets that kprobe_multi was found missing (tests). */
export function forgetKprobeMulti(): void {
  multiUnsupported = undefined;
}

/** A kprobe or kretprobe on `fn` (a name or a pattern), in `session`. */
export function attachKprobeTarget(fn: string, ret: boolean, opts: KprobeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  const kind = ret ? 'kretprobe' : 'kprobe';
  const glob = typeof fn === 'string' && isGlob(fn);
  checkName(`${kind} function`, fn, glob ? GLOB_SYMBOL : SYMBOL, 'vfs_read or vfs_*');
  const o = checkOptions(opts);
  checkPrivileges();
  const explain: string[] = [];
  const warnings: string[] = [];
  const fns = resolveFunctions(fn, explain, warnings);
  requireKprobesFor(fn, `${kind} ${fn}`);
  const name = `${kind}:${fn}`;

  let noBtf = 0;
  const { parts, compiled, skipped } = compileParts(fns, (f): ProbePart => {
    const w: string[] = [];
    const c = compile(functionContext(f, ret, w), o, undefined, partSummary(summary, f));
    const entryNote = ret ? undefined : recoverCallerAtEntry(c.config, 'kernel', glob ? 'each function' : f);
    if (entryNote && !explain.includes(entryNote)) explain.push(entryNote);
    if (w.length) noBtf++;
    if (fns.length === 1) warnings.push(...w);
    return { name: `${kind}:${f}`, key: f, plans: c.plans, config: c.config };
  });
  if (noBtf && fns.length > 1) warnings.push(`${noBtf} of ${fns.length} functions have no BTF type information: their arguments are raw registers (arg0..arg5)`);

  let attached: FunctionsAttached | undefined;
  const probe = (session ?? Session.get()).attach({
    name,
    kind,
    strategy: fns.length === 1 ? `${kind} ${fns[0]}` : `${kind} ${fns.length} functions`,
    parts,
    attach: (t, ids) => (attached = attachFunctions(t, compiled, ids, ret, o.onProgress)).links,
    warnings,
    describe: `attach ${name}`,
    notFound: () => new NotFoundError(`no kernel function ${fn} that can be probed`, kernelSymbolSuggestions(fn)),
  });
  const done = attached as FunctionsAttached;
  skipped.push(...done.skipped);
  warnings.push(...skippedWarning(skipped, fns.length, 'functions'));
  explain.push(...done.strategy.split('\n'));
  explain.push(
    `calls from places the compiler inlined ${glob ? 'a function' : fn} into do not reach a ${kind}, and kallsyms cannot tell which those are ` +
      '(a function is often inlined into some callers and called from others): when events seem missing, probe the caller or the syscall',
  );
  probe.explain = explain.join('\n');
  probe.skipped = skipped;
  probe.functions = compiled.filter((f) => !done.skipped.some((s) => s.name === f));
  if (fns.length > 1 || compiled[0] !== fn) probe.partPlans = new Map(parts.map((p) => [p.name, p.plans]));
  return probe;
}
