/**
 * The resolver's view of C types: BTF type ids, plus a few synthetic types
 * for what BTF may not hold (a raw register, `struct x **` in a cast, a
 * tracepoint field whose C type text names no BTF type).
 */
import { Btf, Kind, BtfEnumValue } from '../btf';

export interface SynthInt {
  synth: 'int';
  size: number;
  signed: boolean;
  name: string;
  /** Shown in hex by default (raw registers). */
  hex?: boolean;
}
export interface SynthPtr {
  synth: 'ptr';
  to: TypeRef;
}
export interface SynthArray {
  synth: 'array';
  elem: TypeRef;
  n: number;
}
/** A BTF type id (in the context's Btf) or a synthetic type. */
export type TypeRef = number | SynthInt | SynthPtr | SynthArray;

/** An untyped 64-bit register or slot (no BTF). */
export const RAW: SynthInt = { synth: 'int', size: 8, signed: false, name: 'u64', hex: true };

/** What a type is, after typedefs and qualifiers. */
export type View =
  | { k: 'void' }
  | { k: 'int'; size: number; signed: boolean; char: boolean; bool: boolean; name: string; hex: boolean }
  | { k: 'enum'; size: number; signed: boolean; id: number; name: string; values: BtfEnumValue[] }
  | { k: 'ptr'; to: TypeRef; user: boolean }
  | { k: 'array'; elem: TypeRef; n: number }
  | { k: 'struct' | 'union'; id: number; name: string; size: number }
  | { k: 'fwd'; name: string; union: boolean }
  | { k: 'func' }
  | { k: 'float'; size: number };

/** How a type of one byte reads as text: `char`-like names are strings, typedefs like u8 are bytes. */
export type Charish = 'char' | 'byte' | false;

/** C spellings that BTF (from DWARF) names differently. */
const INT_NAMES: Record<string, string> = {
  unsigned: 'unsigned int',
  signed: 'int',
  'signed int': 'int',
  long: 'long int',
  'signed long': 'long int',
  'long signed int': 'long int',
  'unsigned long': 'long unsigned int',
  'unsigned long int': 'long unsigned int',
  'long long': 'long long int',
  'unsigned long long': 'long long unsigned int',
  'unsigned long long int': 'long long unsigned int',
  short: 'short int',
  'unsigned short': 'short unsigned int',
  'unsigned short int': 'short unsigned int',
  bool: '_Bool',
};

/** Fixed-width names, for when a BTF lacks their typedefs. */
const FIXED: Record<string, [number, boolean]> = {
  u8: [1, false], u16: [2, false], u32: [4, false], u64: [8, false],
  s8: [1, true], s16: [2, true], s32: [4, true], s64: [8, true],
  char: [1, true], 'signed char': [1, true], 'unsigned char': [1, false],
  short: [2, true], 'unsigned short': [2, false], int: [4, true], 'unsigned int': [4, false],
  long: [8, true], 'unsigned long': [8, false], 'long long': [8, true], 'unsigned long long': [8, false],
  bool: [1, false], _Bool: [1, false], unsigned: [4, false],
  __u8: [1, false], __u16: [2, false], __u32: [4, false], __u64: [8, false],
  __s8: [1, true], __s16: [2, true], __s32: [4, true], __s64: [8, true],
  // The kernel's typedefs of the types syscalls and tracepoints use (LP64 ABI).
  pid_t: [4, true], uid_t: [4, false], gid_t: [4, false], umode_t: [2, false], loff_t: [8, true], off_t: [8, true],
  size_t: [8, false], ssize_t: [8, true], clockid_t: [4, true], timer_t: [4, true], mqd_t: [4, true], key_t: [4, true],
  key_serial_t: [4, true], qid_t: [4, false], rwf_t: [4, true],
};

/** Whether a C type text is fully understood without BTF (a known integer, or a pointer). */
export function knownWithoutBtf(text: string): boolean {
  const t = text.replace(/\b(const|volatile|__user)\b/g, ' ').replace(/^\s*__data_loc\b/, '').replace(/\[\d*\]\s*$/, '').replace(/\s+/g, ' ').trim();
  // enums need their names; a plain char's sign depends on the kernel's build (-funsigned-char).
  if (/\benum\b/.test(t) || t === 'char') return false;
  return t.endsWith('*') || t in FIXED;
}

export class Types {
  constructor(readonly btf?: Btf) {}

  view(ref: TypeRef): View {
    if (typeof ref !== 'number') {
      switch (ref.synth) {
        case 'int':
          return {
            k: 'int', size: ref.size, signed: ref.signed, char: ref.size === 1 && /char$/.test(ref.name),
            bool: /bool/i.test(ref.name), name: ref.name, hex: !!ref.hex,
          };
        case 'ptr':
          return { k: 'ptr', to: ref.to, user: false };
        case 'array':
          return { k: 'array', elem: ref.elem, n: ref.n };
      }
    }
    if (ref === 0) return { k: 'void' };
    const btf = this.btf!;
    const t = btf.type(btf.resolve(ref));
    switch (t.kind) {
      case Kind.Unknown:
        return { k: 'void' };
      case Kind.Int:
        return { k: 'int', size: t.size, signed: t.signed, char: t.char || /char$/.test(t.name), bool: t.bool, name: t.name, hex: false };
      case Kind.Enum:
      case Kind.Enum64:
        return { k: 'enum', size: t.size, signed: t.signed, id: t.id, name: t.name, values: t.values };
      case Kind.Ptr:
        return { k: 'ptr', to: t.type, user: this.userTagged(t.type) };
      case Kind.Array:
        return { k: 'array', elem: t.type, n: t.nelems };
      case Kind.Struct:
      case Kind.Union:
        return { k: t.kind === Kind.Struct ? 'struct' : 'union', id: t.id, name: t.name, size: t.size };
      case Kind.Fwd:
        return { k: 'fwd', name: t.name, union: t.union };
      case Kind.Float:
        return { k: 'float', size: t.size };
      default:
        return { k: 'func' };
    }
  }

  /** A pointer target carrying the `__user` type tag (kernels built with clang). */
  private userTagged(id: number): boolean {
    const btf = this.btf!;
    for (let i = 0; i < 16 && btf.kind(id) !== Kind.Unknown; i++) {
      const t = btf.type(id);
      if (t.kind === Kind.TypeTag && t.name === 'user') return true;
      if (t.kind !== Kind.Const && t.kind !== Kind.Volatile && t.kind !== Kind.Restrict && t.kind !== Kind.TypeTag) return false;
      id = t.type;
    }
    return false;
  }

  size(ref: TypeRef): number {
    if (typeof ref === 'number') return ref === 0 ? 0 : this.btf!.sizeOf(ref);
    if (ref.synth === 'int') return ref.size;
    if (ref.synth === 'ptr') return 8;
    return ref.n * this.size(ref.elem);
  }

  /** C spelling, with an optional declarator. */
  text(ref: TypeRef, inner = ''): string {
    if (typeof ref === 'number') return this.btf ? this.btf.typeToString(ref, inner) : inner ? `void ${inner}` : 'void';
    switch (ref.synth) {
      case 'int':
        return !inner ? ref.name : inner.startsWith('[') ? ref.name + inner : `${ref.name} ${inner}`;
      case 'ptr': {
        const v = this.view(ref.to);
        return this.text(ref.to, v.k === 'array' ? `(*${inner})` : `*${inner}`);
      }
      case 'array':
        return this.text(ref.elem, `${inner}[${ref.n}]`);
    }
  }

  /**
   * Whether a one-byte type reads as text: `char`, `signed char` and
   * `unsigned char` do; typedefs such as u8 and __u8 are bytes; void counts
   * as bytes. Larger types are neither.
   */
  charish(ref: TypeRef): Charish {
    if (ref === 0) return 'byte';
    if (typeof ref !== 'number') return ref.synth === 'int' && ref.size === 1 ? (/char$/.test(ref.name) ? 'char' : 'byte') : false;
    return this.btf!.charKind(ref);
  }

  /** Whether a pointer type points to `const` (BTF: a CONST among the pointee's qualifiers). */
  pointsToConst(ref: TypeRef): boolean {
    if (typeof ref !== 'number' || !this.btf) return false;
    const btf = this.btf;
    const ptr = btf.resolve(ref);
    if (btf.kind(ptr) !== Kind.Ptr) return false;
    let id = (btf.type(ptr) as { type: number }).type;
    for (let i = 0; i < 16; i++) {
      const k = btf.kind(id);
      if (k === Kind.Const) return true;
      if (k !== Kind.Volatile && k !== Kind.Restrict && k !== Kind.TypeTag && k !== Kind.Typedef) return false;
      id = (btf.type(id) as { type: number }).type;
    }
    return false;
  }

  /** True for a type whose values are strings by default: a pointer to, or array of, char. */
  isCharPointer(ref: TypeRef): boolean {
    const v = this.view(ref);
    return v.k === 'ptr' && this.charish(v.to) === 'char';
  }

  /** A named type: `int`, `unsigned long`, `u32`, `loff_t`, `void`; null when unknown. */
  named(name: string): TypeRef | null {
    const n = name.trim().replace(/\s+/g, ' ');
    if (n === 'void') return 0;
    if (this.btf) {
      const td = this.btf.findTypedef(n);
      if (td !== null) return td;
      const base = this.btf.findBaseType(INT_NAMES[n] ?? n);
      if (base !== null) return base;
    }
    const f = FIXED[n];
    return f ? { synth: 'int', size: f[0], signed: f[1], name: n } : null;
  }

  pointerTo(ref: TypeRef, levels = 1): TypeRef {
    for (let i = 0; i < levels; i++) ref = { synth: 'ptr', to: ref };
    return ref;
  }
}
