/**
 * The public ways to attach: kprobes, kretprobes, syscalls and tracepoints.
 * Each validates its options, works out what the kernel must fetch, and asks
 * the session to attach it.
 */
import { Source } from './abi';
import type { ArgPlan, TraceEvent } from './decode';
import { NotFoundError, OptionError, closest } from './errors';
import { kernelFeatures, requireKprobes } from './features';
import { registerPlans, returnPlan, tracepointPlans } from './plans';
import type { Probe } from './probe';
import { Attacher, Session } from './session';
import { TracepointFormat, listTracepoints, readFormat } from './tracefs';

/** Filters applied in the kernel, before an event is recorded. */
export interface ProbeOptions {
  /** Only this process (tgid). */
  pid?: number;
  /** Only this thread. */
  tid?: number;
  /** Only this user id. */
  uid?: number;
  /** Only tasks with this command name (first 15 characters). */
  comm?: string;
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
  return o;
}

function checkName(what: string, name: unknown, pattern: RegExp): string {
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new OptionError(`${what} must be a name like ${pattern.source.includes(':') ? 'category:name' : 'vfs_read'}, got ${JSON.stringify(name)}`);
  }
  return name;
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const TRACEPOINT = /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/;

/** Close kernel symbols for a name that was not found (reads /proc/kallsyms). */
export function kernelSymbolSuggestions(name: string): string[] {
  // Lazy import keeps start-up free of the 10 MB read unless something failed.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('fs') as typeof import('fs');
  const names = new Set<string>();
  for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const parts = line.split(/\s+/);
    if (parts[1] === 't' || parts[1] === 'T') names.add(parts[2]);
  }
  const clones = [...names].filter((n) => n.startsWith(`${name}.`));
  return [...clones, ...closest(name, names)];
}

function kprobe(fn: string, opts: ProbeOptions | undefined, ret: boolean): Probe {
  checkName(ret ? 'kretprobe function' : 'kprobe function', fn, SYMBOL);
  const o = checkOptions(opts);
  requireKprobes(`${ret ? 'kretprobe' : 'kprobe'} ${fn}`);
  const plans = ret ? [returnPlan()] : registerPlans();
  const name = `${ret ? 'kretprobe' : 'kprobe'}:${fn}`;
  return Session.get().attach({
    name,
    kind: ret ? 'kretprobe' : 'kprobe',
    strategy: `${ret ? 'kretprobe' : 'kprobe'} ${fn}`,
    plans,
    config: o,
    attachers: [(t, cookie) => t.attachKprobe(fn, ret, cookie, 0)],
    describe: `attach ${name}`,
    notFound: () => new NotFoundError(`no kernel function ${fn} that can be probed`, kernelSymbolSuggestions(fn)),
  });
}

/** Traces every call of the kernel function `fn`. */
export function attachKprobe(fn: string, opts?: ProbeOptions): Probe {
  return kprobe(fn, opts, false);
}

/** Traces every return from the kernel function `fn`; events carry `ret`. */
export function attachKretprobe(fn: string, opts?: ProbeOptions): Probe {
  return kprobe(fn, opts, true);
}

/** Traces a tracepoint, `category:name` (e.g. `sched:sched_process_exec`); events carry its fields. */
export function attachTracepoint(tracepoint: string, opts?: ProbeOptions): Probe {
  checkName('tracepoint', tracepoint, TRACEPOINT);
  const o = checkOptions(opts);
  const [category, name] = tracepoint.split(':');
  const format = readFormat(category, name);
  const userPointers = category === 'syscalls';
  return attachTracepointFormat(format, tracepointPlans(format.fields, userPointers), o, `tracepoint:${tracepoint}`);
}

function attachTracepointFormat(format: TracepointFormat, plans: ArgPlan[], o: ProbeOptions, name: string): Probe {
  const tp = `${format.category}:${format.name}`;
  return Session.get().attach({
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${tp}`,
    plans,
    config: o,
    attachers: [(t, cookie) => t.attachTracepoint(format.category, format.name, cookie)],
    describe: `attach tracepoint ${tp}`,
  });
}

/** The kernel function behind a syscall on this architecture. */
export function syscallFunction(name: string): string {
  const prefix = { x64: '__x64_sys_', arm64: '__arm64_sys_', s390x: '__s390x_sys_' }[process.arch as string] ?? 'sys_';
  return prefix + name;
}

/** x86-64 `struct pt_regs` offsets of the syscall argument registers (di, si, dx, r10, r8, r9). */
const SYSCALL_ARG_REGS = [112, 104, 96, 56, 72, 64];

/**
 * Plans that read syscall arguments through the `struct pt_regs *` that the
 * syscall function receives, made from the sys_enter tracepoint's plans
 * (whose fields are the arguments, 8 bytes each from offset 16).
 */
function syscallKprobePlans(plans: ArgPlan[]): ArgPlan[] {
  return plans.map((p) => {
    const f = p.fetch;
    const fieldOffset = f.steps.length ? f.steps[0].offset : (f.offset ?? 0);
    const reg = SYSCALL_ARG_REGS[(fieldOffset - 16) / 8];
    const fetch = f.steps.length
      ? { ...f, source: Source.Reg, reg: 0, steps: [{ offset: reg, user: false }] }
      : { ...f, source: Source.Reg, reg: 0, offset: reg };
    return { ...p, fetch };
  });
}

function syscallFormat(name: string, ret: boolean): TracepointFormat | undefined {
  try {
    return readFormat('syscalls', `sys_${ret ? 'exit' : 'enter'}_${name}`);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/**
 * Traces a system call by name (`openat`), with its arguments by name. Uses a
 * kprobe on the syscall's function where the kernel has kprobes, and the
 * `syscalls:sys_enter_<name>` / `sys_exit_<name>` tracepoints otherwise.
 */
export function attachSyscall(name: string, opts?: SyscallOptions): Probe {
  checkName('syscall', name, /^[a-z_][a-z0-9_]*$/);
  const o = checkOptions(opts);
  const ret = opts?.ret === true;
  const enter = syscallFormat(name, false);
  const exit = ret ? syscallFormat(name, true) : undefined;
  const probeName = `syscall:${name}${ret ? ':return' : ''}`;
  if (kernelFeatures().kprobes) {
    const fn = syscallFunction(name);
    const plans = ret ? [returnPlan()] : enter ? syscallKprobePlans(tracepointPlans(enter.fields, true)) : registerPlans();
    const notFound = () => {
      const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
      return new NotFoundError(`no syscall ${name}`, closest(name, all.map((t) => t.name.slice('sys_enter_'.length))));
    };
    return Session.get().attach({
      name: probeName,
      kind: ret ? 'kretprobe' : 'kprobe',
      strategy: `${ret ? 'kretprobe' : 'kprobe'} ${fn}`,
      plans,
      config: o,
      attachers: [(t, cookie) => t.attachKprobe(fn, ret, cookie, 0)],
      describe: `attach ${probeName} (${fn})`,
      notFound,
    });
  }
  const format = ret ? exit : enter;
  if (!format) {
    const all = listTracepoints().filter((t) => t.category === 'syscalls' && t.name.startsWith('sys_enter_'));
    throw new NotFoundError(`no syscall ${name} (no tracepoint syscalls:sys_${ret ? 'exit' : 'enter'}_${name})`,
      closest(name, all.map((t) => t.name.slice('sys_enter_'.length))));
  }
  const plans = tracepointPlans(format.fields, true).map((p) => (ret && p.name === 'ret' ? { ...p, isReturn: true } : p));
  return attachTracepointFormat(format, plans, o, probeName);
}

export type { Probe, TraceEvent };
