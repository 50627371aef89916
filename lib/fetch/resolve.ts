/**
 * Compiles a parsed argument expression against a probe context into a
 * fetch program (lib/sys/abi.ts FetchArg) and the way to show its value.
 *
 * A location is tracked while walking the expression: either the current
 * value itself (a register), or memory at `value + offset`. `->` on a
 * pointer in memory adds a dereference step; `.` and `[i]` on embedded
 * structs and arrays only move the pending offset, which the final store
 * then uses, so `a->b.c->d.e` costs two steps plus the store.
 */
import { FetchArg, FetchStep, MAX_ARGS, MAX_STEPS, MAX_STR, Source, Store } from '../sys/abi';
import { ExpressionError } from '../errors';
import { closest } from '../sys/names';
import { RAW, TypeRef, Types, View } from './ctype';
import type { ContextParam, ProbeContext } from './context';
import { FLAG_TABLES, FlagName, flagsFromEnum, knownFlags } from './flags';
import type { ArgDecoder } from './format';
import { ArgSpec, Expr, Suffix, TypeName, parseArg } from './parse';

/** Longest string fetched when the expression does not say (`:string[N]` does). */
export const DEFAULT_MAX_STRING = 256;

export interface CompiledArg {
  /** The name events use: the label, the parameter name, or the expression text. */
  label: string;
  /** The expression as given. */
  expression: string;
  fetch: FetchArg;
  decode: ArgDecoder;
}

export interface CompileOptions {
  /** Default longest string (1..4096); 256 when unset. */
  maxString?: number;
  /** Fetched for a filter only. */
  hidden?: boolean;
}

interface Loc {
  type: TypeRef;
  source: Source;
  reg: number;
  steps: FetchStep[];
  /** true: the thing is in memory at value + offset; false: the value is the thing. */
  inMem: boolean;
  offset: number;
  /** The memory at the location is user memory. */
  memUser: boolean;
  /** Not in memory: the value, a pointer, points to user memory. */
  valUser: boolean;
  /** In memory: a pointer loaded from here points to user memory. */
  ptrUser: boolean;
  bit?: { offset: number; size: number };
  dataLoc?: boolean;
  /** The last name walked (parameter or member) and where it lives (function or `struct x`), for flag tables. */
  name: string;
  owner: string;
  /** The parameter's declared C type, while the location is still the parameter itself. */
  ctype?: string;
  /** The location is still the parameter itself (no member, index or cast). */
  param?: ContextParam;
}

const MEMBERS_SHOWN = 24;

class Compiler {
  readonly types: Types;
  private readonly maxString: number;

  constructor(
    readonly ctx: ProbeContext,
    readonly spec: ArgSpec,
    readonly opts: CompileOptions,
  ) {
    this.types = new Types(ctx.btf);
    this.maxString = opts.maxString ?? DEFAULT_MAX_STRING;
    if (!(this.maxString >= 1 && this.maxString <= MAX_STR)) {
      throw this.err(0, `the longest string must be 1..${MAX_STR} bytes, not ${opts.maxString}`);
    }
  }

  err(pos: number, reason: string, members?: string[]): ExpressionError {
    return new ExpressionError(this.spec.source, pos, reason, members);
  }

  /** `'file->f_path' is struct path` */
  private is(e: Expr, loc: Loc): string {
    return `'${render(e)}' is ${this.types.text(loc.type)}`;
  }

  compile(): CompiledArg {
    const loc = this.eval(this.spec.expr);
    const { fetch, decode } = this.finish(loc, this.spec.suffix);
    if (this.opts.hidden) fetch.hidden = true;
    return { label: this.spec.label ?? this.spec.exprText, expression: this.spec.source, fetch, decode };
  }

  // ---- walking the expression ---------------------------------------------

  eval(e: Expr): Loc {
    if (e.type === 'name') return this.param(e.name, e.pos);
    // Left to right: a cast's type is checked before its operand.
    const target = e.type === 'cast' ? this.typeName(e.ctype) : 0;
    const loc = this.eval(e.type === 'cast' ? e.operand : e.object);
    loc.ctype = undefined;
    loc.param = undefined;
    switch (e.type) {
      case 'cast':
        return this.cast(loc, e, target);
      case 'member':
        return this.member(loc, e);
      case 'index':
        return this.index(loc, e);
    }
  }

  private param(name: string, pos: number): Loc {
    const ctx = this.ctx;
    let p: ContextParam | undefined;
    if (name === 'retval' && !ctx.retval && ctx.params.some((q) => q.name === name)) {
      // A parameter or tracepoint field that happens to be called `retval`.
      p = ctx.params.find((q) => q.name === name);
    } else if (name === 'retval' || name === '$retval') {
      // sys_exit_* records carry the return value as the field `ret`.
      p = ctx.retval ?? (ctx.kind === 'syscall' ? ctx.params.find((q) => q.name === 'ret') : undefined);
      if (!p) {
        throw this.err(pos, `'${name}' is only available in return probes (kretprobe, uretprobe, sys_exit); ${ctx.name} is a ${ctx.kind}`);
      }
    } else {
      p = ctx.params.find((q) => q.name === name);
      const n = /^arg(\d+)$/.exec(name);
      if (!p && n) p = ctx.argN[Number(n[1])];
    }
    if (!p) {
      const names = ctx.params.map((q) => q.name);
      if (ctx.retval) {
        throw this.err(pos, `unknown name '${name}': a return probe of ${ctx.name} has only 'retval' (parameters are gone when the function returns)`, ['retval']);
      }
      const sugg = closest(name, names);
      const has = names.length ? `; ${ctx.name} has: ${names.join(', ')}` : `; ${ctx.name} has no parameters`;
      throw this.err(pos, `unknown parameter '${name}'${sugg.length ? ` (did you mean ${sugg[0]}?)` : ''}${has}`, names);
    }
    if (p.unavailable) throw this.err(pos, `cannot read '${name}': ${p.unavailable}`);
    const loc: Loc = {
      type: p.type, source: p.at.source, reg: 0, steps: [], inMem: false, offset: 0,
      memUser: false, valUser: !!p.user, ptrUser: false, name: p.name, owner: ctx.name, ctype: p.ctype, param: p,
    };
    if (p.at.source === Source.Reg) loc.reg = p.at.reg;
    if (p.at.source === Source.Ctx) {
      // A field of the tracepoint record, which is kernel memory.
      Object.assign(loc, { inMem: true, offset: p.at.offset, ptrUser: !!p.user, dataLoc: !!p.at.dataLoc });
    }
    return loc;
  }

  /** Makes the value at the location the current value (one dereference step when in memory). */
  private load(loc: Loc, pos: number): void {
    if (!loc.inMem) return;
    if (loc.bit) throw this.err(pos, `'${loc.name}' is a bitfield, not a pointer`);
    if (loc.steps.length >= MAX_STEPS) {
      throw this.err(pos, `too deep: an argument may follow at most ${MAX_STEPS} pointers`);
    }
    loc.steps.push({ offset: loc.offset, user: loc.memUser });
    loc.valUser = loc.ptrUser || loc.memUser;
    loc.inMem = false;
    loc.offset = 0;
  }

  /** Follows the pointer at `loc`: afterwards the location is the pointee, in memory. */
  private deref(loc: Loc, v: View & { k: 'ptr' }, pos: number): void {
    this.load(loc, pos);
    loc.inMem = true;
    loc.offset = 0;
    loc.memUser = loc.valUser || v.user;
    loc.ptrUser = loc.memUser;
    loc.type = v.to;
  }

  private member(loc: Loc, e: Expr & { type: 'member' }): Loc {
    const obj = e.object;
    const v = this.types.view(loc.type);
    let target: View = v;
    if (loc.dataLoc) throw this.err(e.pos, `'${render(obj)}' is a string (__data_loc); it has no members`);
    if (e.arrow) {
      if (v.k !== 'ptr') {
        if (v.k === 'struct' || v.k === 'union') throw this.err(e.pos, `${this.is(obj, loc)}, not a pointer: use '.' instead of '->'`);
        if (loc.type === RAW) {
          throw this.err(e.pos, `'${render(obj)}' has no type (no BTF): cast it first, e.g. ((struct file *)${render(obj)})->${e.member}`);
        }
        throw this.err(e.pos, `'->' needs a pointer to a struct; ${this.is(obj, loc)}`);
      }
      let to = v.to;
      target = this.types.view(to);
      if (target.k === 'fwd') {
        // A declaration whose definition the same BTF holds under the same name.
        const def = target.union ? this.ctx.btf?.findUnion(target.name) : this.ctx.btf?.findStruct(target.name);
        if (def != null && this.types.view(def).k !== 'fwd') [to, target] = [def, this.types.view(def)];
      }
      if (target.k === 'fwd') {
        throw this.err(e.pos, `'${render(obj)}' points to ${target.union ? 'union' : 'struct'} ${target.name}, which this BTF only declares; cast it if another BTF (module) defines it`);
      }
      if (target.k !== 'struct' && target.k !== 'union') {
        throw this.err(e.pos, `'${render(obj)}' points to ${this.types.text(v.to)}, not to a struct`);
      }
      this.deref(loc, { ...v, to }, e.pos);
    } else {
      if (v.k === 'ptr') throw this.err(e.pos, `${this.is(obj, loc)}, a pointer: use '->' instead of '.'`);
      if (v.k !== 'struct' && v.k !== 'union') throw this.err(e.pos, `'.' needs a struct or union; ${this.is(obj, loc)}`);
      if (!loc.inMem) throw this.err(e.pos, `'${render(obj)}' is a ${v.k} passed by value; its members cannot be read`);
    }
    const s = target as View & { k: 'struct' | 'union' };
    const btf = this.ctx.btf!;
    const m = btf.findMember(s.id, e.member);
    if (!m) {
      const names = btf.memberNames(s.id);
      const sugg = closest(e.member, names);
      const shown = names.length > MEMBERS_SHOWN ? `${names.slice(0, MEMBERS_SHOWN).join(', ')}, … (${names.length} in all)` : names.join(', ');
      throw this.err(
        e.memberPos,
        `${s.k} ${s.name || '(anonymous)'} has no member '${e.member}'${sugg.length ? ` (did you mean ${sugg[0]}?)` : ''}; its members: ${shown}`,
        names,
      );
    }
    loc.offset += Math.floor(m.bitOffset / 8);
    loc.bit = m.bitSize ? { offset: m.bitOffset % 8, size: m.bitSize } : undefined;
    loc.type = m.type;
    loc.name = e.member;
    loc.owner = `${s.k} ${s.name}`;
    return loc;
  }

  private index(loc: Loc, e: Expr & { type: 'index' }): Loc {
    const obj = e.object;
    const v = this.types.view(loc.type);
    if (loc.dataLoc) throw this.err(e.pos, `'${render(obj)}' is a __data_loc string; it cannot be indexed`);
    if (v.k === 'array') {
      if (!loc.inMem) throw this.err(e.pos, `'${render(obj)}' is not in memory; it cannot be indexed`);
      if (v.n && e.index >= v.n) throw this.err(e.pos + 1, `index ${e.index} is out of bounds: ${this.is(obj, loc)} (${v.n} elements)`);
      loc.offset += e.index * this.types.size(v.elem);
      loc.type = v.elem;
    } else if (v.k === 'ptr') {
      const size = this.types.size(v.to);
      if (!size) throw this.err(e.pos, `cannot index '${render(obj)}': it points to ${this.types.text(v.to)}, which has no size; cast it`);
      this.deref(loc, v, e.pos);
      loc.offset = e.index * size;
    } else {
      throw this.err(e.pos, `only arrays and pointers can be indexed; ${this.is(obj, loc)}`);
    }
    loc.bit = undefined;
    return loc;
  }

  private cast(loc: Loc, e: Expr & { type: 'cast' }, target: TypeRef): Loc {
    const tv = this.types.view(target);
    const from = this.types.view(loc.type);
    const what = `(${e.ctype.text})`;
    if (tv.k === 'struct' || tv.k === 'union' || tv.k === 'array' || tv.k === 'void' || tv.k === 'fwd' || tv.k === 'func') {
      throw this.err(e.ctype.pos, `cannot cast to ${this.types.text(target)}: cast to a pointer or an integer, e.g. (${this.types.text(target)} *)`);
    }
    if (loc.dataLoc || !(from.k === 'int' || from.k === 'enum' || from.k === 'ptr')) {
      throw this.err(e.pos, `cannot cast ${this.is(e.operand, loc)}: only integers and pointers can be cast`);
    }
    if (tv.k === 'ptr' && loc.inMem && this.types.size(loc.type) !== 8) {
      throw this.err(e.pos, `cannot cast to ${what}: ${this.is(e.operand, loc)}, ${this.types.size(loc.type)} bytes, not a pointer's 8`);
    }
    if (loc.bit && tv.k === 'ptr') throw this.err(e.pos, `cannot cast the bitfield '${render(e.operand)}' to a pointer`);
    loc.type = target;
    return loc;
  }

  private typeName(t: TypeName): TypeRef {
    const btf = this.ctx.btf;
    let base: TypeRef | null;
    if (t.tag) {
      if (!btf) throw this.err(t.pos, `cannot cast to ${t.tag} ${t.name}: there is no BTF to describe it`);
      base = t.tag === 'struct' ? btf.findStruct(t.name) : t.tag === 'union' ? btf.findUnion(t.name) : btf.findEnum(t.name);
      if (base === null) {
        const kinds = t.tag === 'struct' ? [4] : t.tag === 'union' ? [5] : [6, 19];
        const sugg = closest(t.name, btf.namesOfKind(kinds));
        throw this.err(t.pos, `unknown ${t.tag} '${t.name}'${sugg.length ? ` (did you mean ${sugg.slice(0, 3).join(', ')}?)` : ''}`);
      }
    } else {
      base = this.types.named(t.name);
      if (base === null) throw this.err(t.pos, `unknown type '${t.name}'`);
    }
    return this.types.pointerTo(base, t.pointers);
  }

  // ---- the final store -----------------------------------------------------

  private finish(loc: Loc, suffix: Suffix | undefined): { fetch: FetchArg; decode: ArgDecoder } {
    const types = this.types;
    const v = types.view(loc.type);
    const text = loc.ctype ?? types.text(loc.type);
    const expr = this.spec.expr;
    const end = suffix ? suffix.pos : this.spec.source.length;
    const base = (): FetchArg => {
      const f: FetchArg = { source: loc.source, steps: loc.steps, store: Store.Value, size: 8 };
      if (loc.source === Source.Reg) f.reg = loc.reg;
      return f;
    };
    const dec = (kind: ArgDecoder['kind'], size: number, signed: boolean, extra: Partial<ArgDecoder> = {}): ArgDecoder => ({
      kind, size, signed, type: text, ...extra,
    });

    /** A scalar of `size` bytes at the location (or the value itself). */
    const scalar = (size: number, signed: boolean): FetchArg => {
      if (loc.dataLoc) throw this.err(end, `'${render(expr)}' is a __data_loc string, not a number`);
      const f = base();
      f.size = size;
      if (signed) f.signed = true;
      if (!loc.inMem) return f;
      f.store = loc.memUser ? Store.MemUser : Store.Mem;
      f.offset = loc.offset;
      if (loc.bit) {
        // Read the smallest word that covers the bits; little-endian, so bit k of it is bit k of the field's bytes.
        const need = loc.bit.offset + loc.bit.size;
        f.size = need <= 8 ? 1 : need <= 16 ? 2 : need <= 32 ? 4 : 8;
        f.bitOffset = loc.bit.offset;
        f.bitSize = loc.bit.size;
      }
      return f;
    };
    const bitInfo = (): Partial<ArgDecoder> => (loc.bit ? { bitSize: loc.bit.size } : {});

    /** Whether the thing at the location can be read as a string or bytes by following it as a pointer. */
    const pointerLike = v.k === 'ptr' || (v.k === 'int' && v.size === 8 && !loc.bit);
    /** A string or byte run that the location points to. */
    const pointee = (store: Store.Str | Store.Bytes, max: number, forceUser: boolean, kind: 'string' | 'bytes'): { fetch: FetchArg; decode: ArgDecoder } => {
      this.load(loc, lastName(expr));
      const user = forceUser || loc.valUser || (v.k === 'ptr' && v.user);
      const f = base();
      f.store = (store + (user ? 1 : 0)) as Store;
      f.size = max;
      f.offset = 0;
      return { fetch: f, decode: dec(kind, max, false, user ? { user } : {}) };
    };
    /** A string or byte run stored at the location itself (an array). */
    const inPlace = (store: Store.Str | Store.Bytes, max: number, forceUser: boolean, kind: 'string' | 'bytes') => {
      if (!loc.inMem) throw this.err(end, `${this.is(expr, loc)}, which is not in memory`);
      const user = forceUser || loc.memUser;
      const f = base();
      f.store = (store + (user ? 1 : 0)) as Store;
      f.size = max;
      f.offset = loc.offset;
      if (loc.dataLoc) {
        if (user || store !== Store.Str) throw this.err(end, `'${render(expr)}' is a __data_loc string: read it as a string`);
        f.store = Store.DataLoc;
      }
      return { fetch: f, decode: dec(kind, max, false, user ? { user } : {}) };
    };
    const checkLen = (n: number, pos: number, what: string) => {
      if (!(n >= 1 && n <= MAX_STR)) throw this.err(pos, `${what} must be 1..${MAX_STR} bytes, not ${n}`);
      return n;
    };

    if (suffix) {
      switch (suffix.type) {
        case 'string':
        case 'ustring': {
          const max = checkLen(suffix.max ?? this.maxString, suffix.pos, 'a string length');
          const force = suffix.type === 'ustring';
          if (v.k === 'array' && types.charish(v.elem)) return inPlace(Store.Str, v.n ? Math.min(v.n, max) : max, force, 'string');
          if (loc.type === RAW || (v.k === 'ptr' && types.charish(v.to)) || (pointerLike && v.k === 'int')) {
            return pointee(Store.Str, max, force, 'string');
          }
          throw this.err(suffix.pos, `':${suffix.type}' needs a char pointer or array; ${this.is(expr, loc)}`);
        }
        case 'bytes': {
          const n = checkLen(suffix.size, suffix.pos, 'bytes[N]');
          if (pointerLike) return pointee(Store.Bytes, n, false, 'bytes');
          if (loc.inMem && !loc.bit && !loc.dataLoc) return inPlace(Store.Bytes, n, false, 'bytes');
          throw this.err(suffix.pos, `':bytes' needs a pointer or something in memory; ${this.is(expr, loc)}`);
        }
        case 'enum': {
          let id: number | null = v.k === 'enum' ? v.id : null;
          if (suffix.name) {
            id = this.ctx.btf?.findEnum(suffix.name) ?? null;
            if (id === null) throw this.err(suffix.pos, `unknown enum '${suffix.name}'`);
          }
          if (id === null) throw this.err(suffix.pos, `':enum' needs an enum type or an enum's name, e.g. ':enum fuse_opcode'; ${this.is(expr, loc)}`);
          if (v.k !== 'int' && v.k !== 'enum') throw this.err(suffix.pos, `':enum' needs an integer; ${this.is(expr, loc)}`);
          const e = types.view(id) as View & { k: 'enum' };
          const size = v.size;
          return {
            fetch: scalar(size, e.signed),
            decode: { ...dec('enum', size, e.signed, bitInfo()), enumName: e.name, names: enumNames(e), type: suffix.name ? `enum ${e.name}` : text },
          };
        }
        case 'flags': {
          if (v.k !== 'int' && v.k !== 'enum') throw this.err(suffix.pos, `':flags' needs an integer; ${this.is(expr, loc)}`);
          let flags: FlagName[] | undefined;
          if (suffix.name) {
            flags = FLAG_TABLES[suffix.name];
            if (!flags) {
              const id = this.ctx.btf?.findEnum(suffix.name) ?? null;
              if (id === null) throw this.err(suffix.pos, `unknown flag set '${suffix.name}': name an enum, or one of ${Object.keys(FLAG_TABLES).join(', ')}`);
              flags = flagsFromEnum((types.view(id) as View & { k: 'enum' }).values);
            }
          } else if (v.k === 'enum') {
            flags = flagsFromEnum(v.values);
          } else {
            flags = knownFlags(loc.owner, loc.name);
          }
          if (!flags) throw this.err(suffix.pos, `no flag names are known for '${render(expr)}': name an enum or a table (':flags open'), or use ':x${v.size * 8}'`);
          return { fetch: scalar(v.size, false), decode: dec('flags', v.size, false, { ...bitInfo(), flags }) };
        }
        default: {
          // u8..s64, x8..x64: reinterpret the location as that integer.
          const size = Number(suffix.type.slice(1)) / 8;
          const signed = suffix.type[0] === 's';
          if (v.k === 'struct' || v.k === 'union' || v.k === 'array' || loc.dataLoc) {
            if (!loc.inMem || loc.dataLoc) throw this.err(suffix.pos, `${this.is(expr, loc)}, not a number`);
          }
          const kind = suffix.type[0] === 'x' ? 'hex' : signed ? 'int' : 'uint';
          return { fetch: scalar(size, signed), decode: { ...dec(kind, size, signed, bitInfo()), type: suffix.type } };
        }
      }
    }

    // No suffix: by type.
    switch (v.k) {
      case 'int': {
        if (v.size > 8) return inPlace(Store.Bytes, v.size, false, 'bytes');
        if (v.bool) return { fetch: scalar(v.size, false), decode: dec('bool', v.size, false, bitInfo()) };
        if (v.hex) return { fetch: scalar(v.size, false), decode: dec('hex', v.size, false, bitInfo()) };
        const flags = knownFlags(loc.owner, loc.name);
        if (flags) return { fetch: scalar(v.size, false), decode: dec('flags', v.size, false, { ...bitInfo(), flags }) };
        if (v.name === 'char' && !loc.bit) {
          return { fetch: scalar(1, v.signed), decode: dec('char', 1, v.signed) };
        }
        return { fetch: scalar(v.size, v.signed), decode: dec(v.signed ? 'int' : 'uint', v.size, v.signed, bitInfo()) };
      }
      case 'enum':
        return {
          fetch: scalar(v.size, v.signed),
          decode: dec('enum', v.size, v.signed, { ...bitInfo(), enumName: v.name, names: enumNames(v) }),
        };
      case 'float':
        return { fetch: scalar(v.size, false), decode: dec('hex', v.size, false) };
      case 'ptr':
        if (types.charish(v.to) === 'char' && !(loc.param && isOutParameter(this.ctx, loc.param))) return pointee(Store.Str, this.maxString, false, 'string');
        return { fetch: scalar(8, false), decode: dec('pointer', 8, false) };
      case 'array': {
        const c = types.charish(v.elem);
        if (c === 'char' || loc.dataLoc) return inPlace(Store.Str, v.n ? Math.min(v.n, MAX_STR) : this.maxString, false, 'string');
        const size = types.size(loc.type);
        if (size >= 1 && size <= MAX_STR) return inPlace(Store.Bytes, size, false, 'bytes');
        throw this.err(end, `${this.is(expr, loc)}, ${size} bytes; index it ('[0]') or read part of it with ':bytes[N]'`);
      }
      case 'struct':
      case 'union': {
        const names = this.ctx.btf!.memberNames(v.id);
        const shown = names.length > MEMBERS_SHOWN ? `${names.slice(0, MEMBERS_SHOWN).join(', ')}, …` : names.join(', ');
        throw this.err(end, `${this.is(expr, loc)}; read one of its members (${shown}) or ':bytes[N]'`, names);
      }
      default:
        throw this.err(end, `${this.is(expr, loc)}, which has no value to read`);
    }
  }
}

/**
 * Whether a function's or syscall's parameter is a buffer it fills: a `char *`
 * that is not `const` (read's `buf`, getcwd's) holds, at entry, bytes the
 * kernel has not written yet, so it is shown as a pointer; `const char *`
 * (open's `filename`, write's `buf`) is the caller's string. `:string` reads either.
 */
export function isOutParameter(ctx: ProbeContext, p: ContextParam): boolean {
  if (ctx.kind !== 'kprobe' && ctx.kind !== 'syscall') return false;
  const types = new Types(ctx.btf);
  if (!types.isCharPointer(p.type)) return false;
  // A format file's C text says const where its field's type (a pointer without BTF) may not.
  if (p.ctype !== undefined) return !/\bconst\b/.test(p.ctype);
  return !types.pointsToConst(p.type);
}

function enumNames(e: View & { k: 'enum' }): Map<bigint, string> {
  const m = new Map<bigint, string>();
  const bits = e.size * 8;
  for (const { name, value } of e.values) {
    // Keys as the kernel normalises the value: sign-extended or masked to the enum's size.
    const key = e.signed ? BigInt.asIntN(64, value) : BigInt.asUintN(bits, value);
    if (!m.has(key)) m.set(key, name);
  }
  return m;
}

/** Where the last name of an expression starts: the pointer a final string read follows. */
function lastName(e: Expr): number {
  return e.type === 'member' ? e.memberPos : e.pos;
}

/** An expression as text, for messages. */
export function render(e: Expr): string {
  switch (e.type) {
    case 'name':
      return e.name;
    case 'cast':
      return `(${e.ctype.text})${render(e.operand)}`;
    case 'member':
      return `${render(e.object)}${e.arrow ? '->' : '.'}${e.member}`;
    case 'index':
      return `${render(e.object)}[${e.index}]`;
  }
}

/** Compiles a parsed argument. Throws ExpressionError. */
export function compileSpec(spec: ArgSpec, ctx: ProbeContext, opts: CompileOptions = {}): CompiledArg {
  return new Compiler(ctx, spec, opts).compile();
}

/** Parses and compiles one argument expression. Throws ExpressionError. */
export function compileArg(expression: string, ctx: ProbeContext, opts: CompileOptions = {}): CompiledArg {
  return compileSpec(parseArg(expression), ctx, opts);
}

/** Compiles a probe's argument expressions (at most 8). Throws ExpressionError. */
export function compileArgs(expressions: readonly string[], ctx: ProbeContext, opts: CompileOptions = {}): CompiledArg[] {
  if (expressions.length > MAX_ARGS) {
    throw new ExpressionError(expressions[MAX_ARGS], 0, `too many expressions: a probe fetches at most ${MAX_ARGS} arguments (${expressions.length} given)`);
  }
  const out = expressions.map((x) => compileArg(x, ctx, opts));
  const seen = new Set<string>();
  expressions.forEach((x, i) => {
    const l = out[i].label;
    if (seen.has(l)) throw new ExpressionError(x, 0, `two arguments are called '${l}': label one, e.g. 'other=${parseArg(x).exprText}'`);
    seen.add(l);
  });
  return out;
}

/**
 * The arguments a probe shows when none are asked for: every parameter
 * (up to 8) by its type, or the return value of a return probe.
 */
export function defaultArgs(ctx: ProbeContext, opts: CompileOptions = {}): CompiledArg[] {
  if (ctx.retval) return [compileArg('retval', ctx, opts)];
  const params = ctx.params.filter((p) => !p.hidden && !p.unavailable).slice(0, MAX_ARGS);
  return params.map((p) => {
    // A string-less char pointer would show garbage; an unreadable one shows a fault, which is honest.
    return compileArg(p.name, ctx, opts);
  });
}
