/**
 * describeTarget(): what a probe target looks like — a kernel function's prototype
 * from BTF, a tracepoint's fields, a syscall's arguments — without attaching.
 */
import { functionContext, tracepointFormatContext } from '../attach/contexts';
import { NotFoundError, OptionError } from '../errors';
import type { ContextParam, ProbeContext } from '../fetch';
import { Types, isOutParameter } from '../fetch';
import { syscallFunction } from '../sys/arch';
import { cloneBase } from '../sys/kallsyms';
import { closest } from '../sys/names';
import { listTracepoints, readFormat } from '../sys/tracefs';

export interface Description {
  kind: 'function' | 'tracepoint' | 'syscall';
  name: string;
  /** C-like: `int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)`. */
  prototype: string;
  /** The parameters (or fields) by name with their C types. */
  params: Array<{ name: string; type: string; note?: string }>;
  /** The return type, for functions. */
  returns?: string;
  /** The kernel module holding a function, when it is not in vmlinux. */
  module?: string;
  /** Whether the types come from BTF (false: raw registers). */
  btf: boolean;
  /** The kernel function a syscall enters. */
  function?: string;
}

function paramsOf(ctx: ProbeContext): Description['params'] {
  const types = new Types(ctx.btf);
  return ctx.params
    .filter((p: ContextParam) => !p.hidden)
    .map((p) => {
      const out: { name: string; type: string; note?: string } = { name: p.name, type: p.ctype ?? types.text(p.type) };
      if (p.unavailable) out.note = `not readable: ${p.unavailable}`;
      else if (isOutParameter(ctx, p)) out.note = `a buffer it fills: shown as a pointer; ${p.name}:string reads it`;
      return out;
    });
}

/** Describes `vfs_read`, `tracepoint:cat:name` (or `cat:name`), or `syscall:openat`, as `kprobe-node info` does. */
export function describeTarget(target: string): Description {
  if (typeof target !== 'string' || !target) throw new OptionError('describeTarget() needs a function, tracepoint or syscall name');
  const m = /^(?:(tracepoint|t):)?([A-Za-z_]\w*):([A-Za-z_]\w*)$/.exec(target);
  if (m && m[2] !== 'syscall' && m[2] !== 's' && m[2] !== 'kprobe' && m[2] !== 'kretprobe') {
    const ctx = tracepointFormatContext(readFormat(m[2], m[3]));
    return { kind: 'tracepoint', name: `${m[2]}:${m[3]}`, prototype: ctx.prototype, params: paramsOf(ctx), btf: !!ctx.btf };
  }
  const sys = /^(?:syscall|s):([a-z_]\w*)$/.exec(target);
  if (sys) {
    let format;
    try {
      format = readFormat('syscalls', `sys_enter_${sys[1]}`);
    } catch {
      const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
      throw new NotFoundError(`no syscall ${sys[1]}`, closest(sys[1], all.map((t) => t.name.slice('sys_enter_'.length))));
    }
    const ctx = tracepointFormatContext(format);
    const params = paramsOf(ctx);
    return {
      kind: 'syscall',
      name: sys[1],
      prototype: `long ${sys[1]}(${params.map((p) => `${p.type}${p.type.endsWith('*') ? '' : ' '}${p.name}`).join(', ')})`,
      params,
      returns: 'long',
      btf: !!ctx.btf,
      function: syscallFunction(sys[1]),
    };
  }
  const fn = target.replace(/^(kprobe|k|kretprobe|kr):/, '');
  if (!/^[A-Za-z_][\w.]*$/.test(fn)) throw new OptionError(`not a function, tracepoint or syscall name: ${JSON.stringify(target)}`);
  const warnings: string[] = [];
  const ctx = functionContext(fn, false, warnings);
  if (!ctx.btf || warnings.length) {
    throw new NotFoundError(`no BTF prototype for ${fn}`, ctx.btf ? closest(fn, ctx.btf.functionNames()) : []);
  }
  const types = new Types(ctx.btf);
  const func = ctx.btf.findFunction(cloneBase(fn));
  const module = ctx.btf.name === 'vmlinux' ? undefined : ctx.btf.name;
  return {
    kind: 'function',
    name: fn,
    prototype: ctx.prototype,
    params: paramsOf(ctx),
    returns: func ? types.text(func.returnType) : undefined,
    ...(module ? { module } : {}),
    btf: true,
  };
}

/** @deprecated Use describeTarget(); this name collides with test runners' global `describe`. */
export const describe = describeTarget;
