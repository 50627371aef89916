/**
 * The probe context of each kind of target: what its expressions may name
 * and where each value is (lib/fetch). describe() shows the same contexts.
 */
import { Btf } from '../btf';
import { NotFoundError } from '../errors';
import { ProbeContext, knownWithoutBtf, kprobeContext, kretprobeContext, rawContext, tracepointContext } from '../fetch';
import { kernelFeatures } from '../sys/features';
import { cloneBase } from '../sys/kallsyms';
import { TracepointFormat, readFormat } from '../sys/tracefs';

/**
 * The probe context of a kernel function: its BTF prototype (a compiler
 * clone has its source function's), or raw registers with a warning when it has none.
 */
export function functionContext(fn: string, ret: boolean, warnings: string[]): ProbeContext {
  let f = null;
  if (kernelFeatures().btf) f = Btf.findFunctionAnywhere(cloneBase(fn));
  if (f) return ret ? kretprobeContext(f) : kprobeContext(f);
  warnings.push(`${fn} has no BTF type information: arguments are shown as raw registers (arg0..arg5)`);
  return rawContext(ret ? 'kretprobe' : 'kprobe', fn);
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

/** The format of a syscall's sys_enter_ (or sys_exit_) tracepoint; undefined when there is none. */
export function syscallFormat(name: string, ret: boolean): TracepointFormat | undefined {
  try {
    return readFormat('syscalls', `sys_${ret ? 'exit' : 'enter'}_${name}`);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** The return of a syscall function: a `long`. */
export function syscallReturnContext(fn: string): ProbeContext {
  const btf = kernelFeatures().btf ? Btf.kernel() : undefined;
  const long = btf?.findBaseType('long');
  const ctx = rawContext('kretprobe', fn);
  if (ctx.retval && long) ctx.retval = { ...ctx.retval, type: long };
  return ctx;
}
