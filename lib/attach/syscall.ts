/**
 * Syscalls by name: a kprobe on the syscall's function where the kernel has
 * kprobes, the syscalls:sys_enter_/sys_exit_ tracepoints otherwise. Either
 * way the arguments are named as the sys_enter_ tracepoint names them.
 */
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { NotFoundError, OptionError } from '../errors';
import { FetchArg, Source } from '../sys/abi';
import { currentArch, syscallFunction } from '../sys/arch';
import { checkPrivileges, kernelFeatures } from '../sys/features';
import { closest } from '../sys/names';
import { listTracepoints } from '../sys/tracefs';
import { Compiled, SummaryConfig, compile, needsTypes } from './compile';
import { functionContext, syscallFormat, syscallReturnContext, tracepointFormatContext } from './contexts';
import { SYSCALL, SyscallOptions, checkName, checkOptions } from './options';
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

function unknownSyscall(name: string, detail = ''): NotFoundError {
  const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
  return new NotFoundError(`no syscall ${name}${detail}`, closest(name, all.map((t) => t.name.slice('sys_enter_'.length))));
}

/** A syscall's entry (or, with `ret`, its return), in `session`. */
export function attachSyscallTarget(name: string, opts: SyscallOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  checkName('syscall', name, SYSCALL, 'openat');
  const o = checkOptions(opts);
  checkPrivileges();
  const ret = o.ret === true;
  const enter = syscallFormat(name, false);
  const probeName = `syscall:${name}${ret ? ':return' : ''}`;
  if (kernelFeatures().kprobes) {
    const fn = syscallFunction(name);
    const warnings: string[] = [];
    let compiled: Compiled;
    if (ret) compiled = compile(syscallReturnContext(fn), o, undefined, summary);
    else if (enter) compiled = compile(tracepointFormatContext(enter, needsTypes(o, summary)), o, viaPtRegs, summary);
    else compiled = compile(functionContext(fn, false, warnings), o, undefined, summary);
    const probe = (session ?? Session.get()).attach({
      name: probeName,
      kind: ret ? 'kretprobe' : 'kprobe',
      strategy: `${ret ? 'kretprobe' : 'kprobe'} ${fn}`,
      parts: [{ name: probeName, plans: compiled.plans, config: compiled.config }],
      attach: (t, [id]) => [t.attachKprobe(fn, ret, id, 0)],
      warnings,
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
  const probe = attachFormat(format, compiled, probeName, session);
  probe.explain = `no kprobes on this kernel (${kernelFeatures().release}): the tracepoint syscalls:${format.name} instead, which every syscall passes through`;
  return probe;
}
