/**
 * Type utilities over a Btf: following modifiers and typedefs, sizes, C
 * spellings, members through anonymous structs, prototypes.
 */
import type { Btf, BtfFunction, BtfMember } from './reader';
import { Kind } from './format';

const MODIFIERS = new Set([Kind.Const, Kind.Volatile, Kind.Restrict, Kind.TypeTag]);

export function skipModifiers(btf: Btf, id: number): number {
  for (let i = 0; i < 64 && MODIFIERS.has(btf.kind(id)); i++) id = (btf.type(id) as { type: number }).type;
  return id;
}

export function resolve(btf: Btf, id: number): number {
  for (let i = 0; i < 64; i++) {
    const k = btf.kind(id);
    if (!MODIFIERS.has(k) && k !== Kind.Typedef) break;
    id = (btf.type(id) as { type: number }).type;
  }
  return id;
}

/** Size in bytes of a value of type `id`; 0 for void, functions and forward declarations. */
export function sizeOf(btf: Btf, id: number): number {
  const t = btf.type(resolve(btf, id));
  switch (t.kind) {
    case Kind.Int:
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum:
    case Kind.Enum64:
    case Kind.Float:
    case Kind.Datasec:
      return t.size;
    case Kind.Ptr:
      return 8;
    case Kind.Array:
      return t.nelems * sizeOf(btf, t.type);
    default:
      return 0;
  }
}

/**
 * Whether a one-byte type reads as text: `char`, `signed char` and
 * `unsigned char` written as such do ('char'); through a typedef (u8,
 * __u8) they are bytes ('byte'), and so is void. Other types are neither.
 */
export function charKind(btf: Btf, id: number): 'char' | 'byte' | false {
  const t = btf.type(skipModifiers(btf, id));
  if (t.kind === Kind.Int && t.size === 1 && !t.bool) return 'char';
  const r = btf.type(resolve(btf, id));
  if (r.kind === Kind.Unknown) return 'byte';
  return r.kind === Kind.Int && r.size === 1 && !r.bool ? 'byte' : false;
}

/** True when `id` (after modifiers) is an array or a function prototype, which bind tighter than `*`. */
function needsParens(btf: Btf, id: number): boolean {
  const k = btf.kind(skipModifiers(btf, id));
  return k === Kind.Array || k === Kind.FuncProto;
}

/** C declaration of `inner` (a declarator: name, `*name`, `(*name)[4]`) with type `id`. */
export function typeToString(btf: Btf, id: number, inner = ''): string {
  const sp = (base: string) => (!inner ? base : inner.startsWith('[') ? base + inner : `${base} ${inner}`);
  const t = btf.type(id);
  switch (t.kind) {
    case Kind.Unknown:
      return sp('void');
    case Kind.Int:
    case Kind.Float:
    case Kind.Typedef:
      return sp(t.name);
    case Kind.Struct:
      return sp(`struct ${t.name || '{...}'}`);
    case Kind.Union:
      return sp(`union ${t.name || '{...}'}`);
    case Kind.Enum:
    case Kind.Enum64:
      return sp(`enum ${t.name || '{...}'}`);
    case Kind.Fwd:
      return sp(`${t.union ? 'union' : 'struct'} ${t.name}`);
    case Kind.Ptr:
      return typeToString(btf, t.type, needsParens(btf, t.type) ? `(*${inner})` : `*${inner}`);
    case Kind.Const:
    case Kind.Volatile:
    case Kind.Restrict: {
      const q = t.kind === Kind.Const ? 'const' : t.kind === Kind.Volatile ? 'volatile' : 'restrict';
      // A qualified pointer is written after the star: `char *const p`.
      if (btf.kind(skipModifiers(btf, t.type)) === Kind.Ptr) return typeToString(btf, t.type, inner ? `${q} ${inner}` : q);
      return `${q} ${typeToString(btf, t.type, inner)}`;
    }
    case Kind.TypeTag:
      return typeToString(btf, t.type, inner); // e.g. __user: not C syntax, dropped
    case Kind.Array:
      return typeToString(btf, t.type, `${inner}[${t.nelems}]`);
    case Kind.FuncProto: {
      const params = t.params.map((p) => typeToString(btf, p.type, p.name));
      if (t.variadic) params.push('...');
      return typeToString(btf, t.returnType, `${inner}(${params.length ? params.join(', ') : 'void'})`);
    }
    case Kind.Func:
      return typeToString(btf, t.type, inner || t.name);
    case Kind.Var:
      return typeToString(btf, t.type, inner || t.name);
    case Kind.Datasec:
      return `SEC("${t.name}")`;
    case Kind.DeclTag:
      return `__attribute__((btf_decl_tag("${t.name}")))`;
  }
}

/** The function's C prototype. */
export function prototype(btf: Btf, fn: BtfFunction): string {
  const params = fn.params.map((p) => typeToString(btf, p.type, p.name));
  if (fn.variadic) params.push('...');
  return typeToString(btf, fn.returnType, `${fn.name}(${params.length ? params.join(', ') : 'void'})`);
}

/** Direct members of a struct or union (after typedefs); empty for other types. */
export function members(btf: Btf, id: number): BtfMember[] {
  const t = btf.type(resolve(btf, id));
  return t.kind === Kind.Struct || t.kind === Kind.Union ? t.members : [];
}

/**
 * The member called `name`, searched through anonymous struct/union members
 * too; its bitOffset is relative to the outer struct.
 */
export function findMember(btf: Btf, id: number, name: string): BtfMember | null {
  for (const m of members(btf, id)) {
    if (m.name === name) return m;
    if (m.name === '') {
      const inner = findMember(btf, m.type, name);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return null;
}

/** Member names with anonymous members flattened, in declaration order. */
export function memberNames(btf: Btf, id: number): string[] {
  const out: string[] = [];
  for (const m of members(btf, id)) {
    if (m.name) out.push(m.name);
    else out.push(...memberNames(btf, m.type));
  }
  return out;
}
