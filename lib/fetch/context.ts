/**
 * A probe context says what an expression may name: the probe's parameters,
 * their types, and where each value starts (argument register, return
 * register, or a field of the tracepoint record).
 */
import { Source } from '../sys/abi';
import { currentArch } from '../sys/arch';
import type { TracepointField } from '../sys/tracefs';
import { Btf, BtfFunction, Kind } from '../btf';
import { RAW, TypeRef, Types } from './ctype';

export type { TracepointField };

/** Where a parameter's value is at the probe. */
export type ParamLocation =
  | { source: Source.Reg; reg: number }
  | { source: Source.Ret }
  /** A field of the tracepoint record; `dataLoc`: a __data_loc string. */
  | { source: Source.Ctx; offset: number; dataLoc?: boolean };

export interface ContextParam {
  name: string;
  type: TypeRef;
  at: ParamLocation;
  /** Pointers in this value point to user memory (uprobes, syscall arguments). */
  user?: boolean;
  /** Why it cannot be fetched (a parameter passed on the stack). */
  unavailable?: string;
  /** Not listed by default (tracepoints' common_* fields, __syscall_nr). */
  hidden?: boolean;
  /** The C type as declared, when it says more than `type` (a format file's `const char *`). */
  ctype?: string;
}

export type ContextKind = 'kprobe' | 'kretprobe' | 'uprobe' | 'uretprobe' | 'tracepoint' | 'syscall' | 'profile';

export interface ProbeContext {
  kind: ContextKind;
  /** The function or tracepoint (`vfs_fsync_range`, `syscalls:sys_enter_openat`), for messages and flag tables. */
  name: string;
  /** Types for parameters and casts; absent when there is no BTF (raw registers). */
  btf?: Btf;
  params: ContextParam[];
  /** Return probes: the return value. */
  retval?: ContextParam;
  /** argN names register N (kprobes, uprobes) or the Nth argument field (tracepoints). */
  argN: Array<ContextParam | undefined>;
  /** A C-like description: the prototype, or the record's fields. */
  prototype: string;
  /** Kernel `char *` parameters read as strings by default (not for user functions). */
  kernel: boolean;
}

/** Integer arguments passed in registers on this architecture (x86-64: 6, arm64: 8). */
export function argRegs(): number {
  return currentArch().args.length;
}

/**
 * Parameters of a BTF function assigned to registers as the calling
 * convention does (lib/sys/arch.ts): scalars take one register, structs of up to
 * 16 bytes two; larger structs go on the stack (x86-64) or by reference
 * (arm64: a pointer in one register), and what does not fit on the stack.
 */
function functionParams(btf: Btf, fn: BtfFunction): ContextParam[] {
  const types = new Types(btf);
  const arch = currentArch();
  let reg = 0;
  return fn.params.map((p, i) => {
    const name = p.name || `arg${i}`;
    const v = types.view(p.type);
    const size = types.size(p.type);
    const composite = v.k === 'struct' || v.k === 'union';
    const byReference = composite && size > 16 && arch.bigStructs === 'reference';
    const regs = composite ? (size > 16 ? (byReference ? 1 : 0) : Math.ceil(size / 8)) : 1;
    const param: ContextParam = { name, type: p.type, at: { source: Source.Reg, reg } };
    if (regs === 0) {
      param.unavailable = `it is a ${size}-byte ${v.k} passed on the stack`;
    } else if (reg + regs > arch.args.length) {
      param.unavailable = `it is passed on the stack (${arch.title} passes only ${arch.args.length} arguments in registers)`;
    } else if (byReference) {
      param.unavailable = `it is a ${size}-byte ${v.k} that ${arch.title} passes as a pointer to a copy`;
      reg += regs;
    } else {
      if (regs > 1) param.unavailable = `it is a ${v.k} passed by value in two registers`;
      reg += regs;
    }
    return param;
  });
}

function byRegister(params: ContextParam[]): Array<ContextParam | undefined> {
  const out: Array<ContextParam | undefined> = [];
  for (const p of params) if (p.at.source === Source.Reg && !p.unavailable) out[p.at.reg] = p;
  return out;
}

/** Entry of a kernel (or module) function with BTF. */
export function kprobeContext(fn: BtfFunction, kind: 'kprobe' | 'uprobe' = 'kprobe'): ProbeContext {
  const params = functionParams(fn.btf, fn);
  if (kind === 'uprobe') params.forEach((p) => (p.user = true));
  return {
    kind, name: fn.name, btf: fn.btf, params, argN: byRegister(params),
    prototype: fn.btf.prototype(fn), kernel: kind === 'kprobe',
  };
}

/** Return of a function with BTF: `retval` has the function's return type. */
export function kretprobeContext(fn: BtfFunction, kind: 'kretprobe' | 'uretprobe' = 'kretprobe'): ProbeContext {
  const retval: ContextParam = { name: 'retval', type: fn.returnType, at: { source: Source.Ret }, user: kind === 'uretprobe' };
  return {
    kind, name: fn.name, btf: fn.btf, params: [], retval, argN: [],
    prototype: fn.btf.prototype(fn), kernel: kind === 'kretprobe',
  };
}

/**
 * A function without BTF (or a user-space function): arg0..arg{count-1} are
 * untyped 64-bit registers, `retval` for return probes.
 */
export function rawContext(kind: ContextKind, name: string, opts: { count?: number; btf?: Btf } = {}): ProbeContext {
  const user = kind === 'uprobe' || kind === 'uretprobe';
  const ret = kind === 'kretprobe' || kind === 'uretprobe';
  const params: ContextParam[] = ret
    ? []
    : Array.from({ length: Math.min(opts.count ?? argRegs(), argRegs()) }, (_, i) => ({
        name: `arg${i}`, type: RAW, at: { source: Source.Reg, reg: i } as ParamLocation, user,
      }));
  const retval: ContextParam | undefined = ret ? { name: 'retval', type: RAW, at: { source: Source.Ret }, user } : undefined;
  return {
    kind, name, btf: opts.btf ?? (user ? undefined : tryKernelBtf()), params, retval, argN: params,
    prototype: ret ? `${name}() = retval` : `${name}(${params.map((p) => p.name).join(', ')})`, kernel: !user,
  };
}

function tryKernelBtf(): Btf | undefined {
  try {
    return Btf.kernel();
  } catch {
    return undefined;
  }
}


/**
 * A tracepoint's record. `syscall`: a syscalls:sys_enter_* or sys_exit_* event,
 * whose pointer arguments point to user memory.
 */
export function tracepointContext(
  name: string,
  fields: readonly TracepointField[],
  opts: { btf?: Btf | null; syscall?: boolean } = {},
): ProbeContext {
  // null: describe the fields by their C type text alone (no BTF to load).
  const btf = opts.btf === null ? undefined : (opts.btf ?? tryKernelBtf());
  const types = new Types(btf);
  const params: ContextParam[] = fields.map((f) => {
    const { type, dataLoc, pointer } = fieldType(types, f);
    const p: ContextParam = {
      name: f.name, type, at: { source: Source.Ctx, offset: f.offset, ...(dataLoc ? { dataLoc } : {}) }, ctype: f.type,
    };
    if (opts.syscall && pointer) p.user = true;
    if (f.common || f.name.startsWith('common_') || f.name === '__syscall_nr') p.hidden = true;
    return p;
  });
  const visible = params.filter((p) => !p.hidden);
  return {
    kind: opts.syscall ? 'syscall' : 'tracepoint', name, btf, params, argN: visible,
    prototype: `${name}(${visible.map((p) => declaration(p.ctype!, p.name)).join(', ')})`, kernel: true,
  };
}

/** `char comm[16]` from `char[16]` and `comm`. */
function declaration(ctype: string, name: string): string {
  const arr = /\[\d*\]$/.exec(ctype);
  if (arr) return `${ctype.slice(0, arr.index).trim()} ${name}${arr[0]}`;
  return ctype.endsWith('*') ? `${ctype}${name}` : `${ctype} ${name}`;
}

/** Maps a format file's C type text to a type, trusting the field's size and sign where BTF cannot say. */
export function fieldType(types: Types, f: TracepointField): { type: TypeRef; dataLoc: boolean; pointer: boolean } {
  let text = f.type.replace(/\b(const|volatile|__user|__rcu|__percpu)\b/g, ' ').replace(/\s+/g, ' ').trim();
  const dataLoc = /^__data_loc\b/.test(text);
  if (dataLoc) text = text.replace(/^__data_loc\s*/, '');
  const arr = /\[(\d*)\]\s*$/.exec(text);
  if (arr) text = text.slice(0, arr.index).trim();
  const stars = (/\**$/.exec(text.replace(/\s+\*/g, '*'))?.[0] ?? '').length;
  text = text.replace(/[\s*]+$/, '').trim();
  const btf = types.btf;
  const tag = /^(struct|union|enum)\s+(\w+)$/.exec(text);
  let base: TypeRef | null = null;
  if (tag) {
    if (btf) base = tag[1] === 'struct' ? btf.findStruct(tag[2]) : tag[1] === 'union' ? btf.findUnion(tag[2]) : btf.findEnum(tag[2]);
  } else {
    base = types.named(text);
  }
  if (typeof base === 'number' && base !== 0 && btf && btf.kind(base) === Kind.Fwd && stars === 0) base = null;
  const n = arr ? (arr[1] ? Number(arr[1]) : 0) : 0;
  const slot = arr || dataLoc ? (n ? f.size / n : 1) : f.size;
  const synth = (): TypeRef => ({ synth: 'int', size: Math.min(slot, 8), signed: f.signed, name: text || 'u64' });
  let type: TypeRef;
  if (stars > 0) {
    type = types.pointerTo(base ?? 0, stars);
  } else {
    const v = base === null ? null : types.view(base);
    // Unknown, not a scalar, or wider than its slot: the field's own size and sign rule.
    // A slot wider than the type (syscall arguments are longs) is read at the type's width.
    const scalar = v && (v.k === 'int' || v.k === 'enum' || v.k === 'float');
    type = base !== null && scalar && types.size(base) <= slot ? base : synth();
  }
  if (arr || dataLoc) type = { synth: 'array', elem: type, n };
  return { type, dataLoc, pointer: stars > 0 && !arr };
}
