/**
 * Values of BTF types as plain JavaScript, both ways: map keys and values,
 * ring buffer records and global variables of a BPF object, or any kernel
 * type. One classification (valueShape) decides what a type becomes; the
 * codec (codecFor) reads and writes it, and lib/btf/typescript.ts spells the
 * same shape as a TypeScript type, so generated typings match what the
 * decoder returns:
 *
 *   integers of up to 32 bits     number           64 and 128 bits: bigint
 *   _Bool                         boolean          pointers: bigint (the address)
 *   float, double                 number           enums: the enumerator's name
 *   char arrays                   string (to NUL)  arrays of other 1-byte types: Uint8Array
 *   other arrays                  arrays           structs and unions: objects by member name
 *
 * An enum value that names no enumerator stays a number (bigint for 64-bit
 * enums). Anonymous struct and union members are flattened into their
 * parent, as C reads them.
 */
import { OptionError } from '../errors';
import { Kind } from './format';
import { compileDecoder } from './decode';
import type { Btf } from './reader';

export type Shape =
  | { k: 'int'; size: number; signed: boolean }
  | { k: 'bool'; size: number }
  | { k: 'float'; size: number }
  | { k: 'ptr'; size: 8 }
  | { k: 'enum'; size: number; signed: boolean; names: Map<bigint, string>; values: Map<string, bigint>; id: number; name: string }
  | { k: 'string'; size: number }
  | { k: 'bytes'; size: number }
  | { k: 'array'; size: number; n: number; elem: Shape }
  | { k: 'struct' | 'union'; size: number; id: number; name: string; members: Field[] };

/** A member of a struct or union, anonymous members already flattened. */
export interface Field {
  name: string;
  /** From the start of the outer struct. */
  bitOffset: number;
  /** Bitfield width; 0 for an ordinary member. */
  bitSize: number;
  shape: Shape;
}

export interface Codec<T = unknown> {
  /** Bytes one value takes. */
  readonly size: number;
  /** The C type, for messages. */
  readonly type: string;
  readonly shape: Shape;
  decode(buf: Buffer, at: number): T;
  /** Writes `value` at `at` over zeroed bytes; `where` names it in errors (`key.comm`). */
  encode(value: unknown, buf: Buffer, at: number, where: string): void;
}

/** What a value of type `id` is, for reading and writing it. Throws OptionError for types without a value (void, functions, declarations). */
export function valueShape(btf: Btf, id: number): Shape {
  const rid = btf.resolve(id);
  const t = btf.type(rid);
  switch (t.kind) {
    case Kind.Int:
      if (t.bool) return { k: 'bool', size: t.size };
      return { k: 'int', size: t.size, signed: t.signed };
    case Kind.Float:
      return { k: 'float', size: t.size };
    case Kind.Ptr:
      return { k: 'ptr', size: 8 };
    case Kind.Enum:
    case Kind.Enum64: {
      const bits = BigInt(t.size * 8);
      const names = new Map<bigint, string>();
      const values = new Map<string, bigint>();
      for (const v of t.values) {
        const key = t.signed ? BigInt.asIntN(Number(bits), v.value) : BigInt.asUintN(Number(bits), v.value);
        if (!names.has(key)) names.set(key, v.name);
        values.set(v.name, key);
      }
      return { k: 'enum', size: t.size, signed: t.signed, names, values, id: rid, name: t.name };
    }
    case Kind.Array: {
      const byte = btf.charKind(t.type);
      if (byte === 'char') return { k: 'string', size: t.nelems };
      if (byte === 'byte') return { k: 'bytes', size: t.nelems };
      const elem = valueShape(btf, t.type);
      return { k: 'array', size: elem.size * t.nelems, n: t.nelems, elem };
    }
    case Kind.Struct:
    case Kind.Union:
      return { k: t.kind === Kind.Struct ? 'struct' : 'union', size: t.size, id: rid, name: t.name, members: fields(btf, rid, 0) };
    default:
      throw new OptionError(`a value of type ${btf.typeToString(id)} cannot be read or written (it has no layout in this BTF)`);
  }
}

function fields(btf: Btf, id: number, base: number): Field[] {
  const t = btf.type(id);
  if (t.kind !== Kind.Struct && t.kind !== Kind.Union) return [];
  const out: Field[] = [];
  for (const m of t.members) {
    if (m.name === '') {
      out.push(...fields(btf, btf.resolve(m.type), base + m.bitOffset));
      continue;
    }
    out.push({ name: m.name, bitOffset: base + m.bitOffset, bitSize: m.bitSize, shape: valueShape(btf, m.type) });
  }
  return out;
}

const codecs = new WeakMap<Btf, Map<number, Codec>>();

/** The codec of type `id` (cached per BTF). */
export function codecFor(btf: Btf, id: number): Codec {
  let byId = codecs.get(btf);
  if (!byId) codecs.set(btf, (byId = new Map()));
  let c = byId.get(id);
  if (!c) {
    const shape = valueShape(btf, id);
    c = { size: shape.size, type: btf.typeToString(id), shape, decode: compileDecoder(shape), encode: compileEncoder(shape) };
    byId.set(id, c);
  }
  return c;
}

/** A codec for `size` raw bytes (a map defined by key_size/value_size, without BTF types). */
export function bytesCodec(size: number): Codec<Uint8Array> {
  const shape: Shape = { k: 'bytes', size };
  return { size, type: `${size} bytes`, shape, decode: compileDecoder(shape) as Codec<Uint8Array>['decode'], encode: compileEncoder(shape) };
}

type Encode = (value: unknown, buf: Buffer, at: number, where: string) => void;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

function bad(where: string, want: string, v: unknown): never {
  throw new OptionError(`${where}: expected ${want}, got ${describe(v)}`);
}

/** An integer from a number or bigint, checked against the range of `bits` bits. */
function integer(v: unknown, bits: number, signed: boolean, where: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
  else if (typeof v === 'boolean') b = v ? 1n : 0n;
  else return bad(where, `an integer`, v);
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (b < lo || b > hi) throw new OptionError(`${where}: ${describe(v)} does not fit in ${signed ? 's' : 'u'}${bits} (${lo}..${hi})`);
  return b;
}

function compileEncoder(s: Shape): Encode {
  switch (s.k) {
    case 'int':
      return intEncoder(s.size, s.signed);
    case 'ptr':
      return intEncoder(8, false);
    case 'bool':
      return (v, buf, at, where) => {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) bad(where, 'a boolean', v);
        buf[at] = v ? 1 : 0;
      };
    case 'float':
      if (s.size !== 4 && s.size !== 8) throw new OptionError(`a ${s.size}-byte float cannot be written`);
      return (v, buf, at, where) => {
        if (typeof v !== 'number') bad(where, 'a number', v);
        if (s.size === 4) buf.writeFloatLE(v, at);
        else buf.writeDoubleLE(v, at);
      };
    case 'enum': {
      const raw = intEncoder(s.size, s.signed);
      return (v, buf, at, where) => raw(enumValue(s, v, where), buf, at, where);
    }
    case 'string':
      return (v, buf, at, where) => {
        const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v instanceof Uint8Array ? v : bad(where, 'a string', v);
        if (bytes.length > s.size) throw new OptionError(`${where}: ${describe(v)} is ${bytes.length} bytes; char[${s.size}] holds at most ${s.size}`);
        buf.set(bytes, at);
      };
    case 'bytes':
      return (v, buf, at, where) => {
        if (!(v instanceof Uint8Array) && !Array.isArray(v)) bad(where, `a Uint8Array of up to ${s.size} bytes`, v);
        if (v.length > s.size) throw new OptionError(`${where}: ${v.length} bytes do not fit in ${s.size}`);
        if (Array.isArray(v)) v.forEach((b, i) => buf.writeUInt8(Number(integer(b, 8, false, `${where}[${i}]`)), at + i));
        else buf.set(v, at);
      };
    case 'array': {
      const elem = compileEncoder(s.elem);
      const stride = s.elem.size;
      return (v, buf, at, where) => {
        if (!Array.isArray(v)) bad(where, `an array of up to ${s.n}`, v);
        if (v.length > s.n) throw new OptionError(`${where}: ${v.length} elements do not fit in [${s.n}]`);
        v.forEach((x, i) => elem(x, buf, at + i * stride, `${where}[${i}]`));
      };
    }
    case 'struct':
    case 'union':
      return compositeEncoder(s);
  }
}

/** An enumerator's value from its name (or a number as it is). */
function enumValue(s: Shape & { k: 'enum' }, v: unknown, where: string): unknown {
  if (typeof v !== 'string') return v;
  const value = s.values.get(v);
  if (value === undefined) throw new OptionError(`${where}: ${JSON.stringify(v)} is not an enumerator of enum ${s.name || '(anonymous)'} (${[...s.values.keys()].join(', ')})`);
  return value;
}

function intEncoder(size: number, signed: boolean): Encode {
  if (![1, 2, 4, 8, 16].includes(size)) throw new OptionError(`a ${size}-byte integer cannot be written`);
  const bits = size * 8;
  return (v, buf, at, where) => {
    const x = BigInt.asUintN(bits, integer(v, bits, signed, where));
    if (size === 1) buf.writeUInt8(Number(x), at);
    else if (size === 2) buf.writeUInt16LE(Number(x), at);
    else if (size === 4) buf.writeUInt32LE(Number(x), at);
    else if (size === 8) buf.writeBigUInt64LE(x, at);
    else {
      buf.writeBigUInt64LE(x & 0xffffffffffffffffn, at);
      buf.writeBigUInt64LE(x >> 64n, at + 8);
    }
  };
}

function writeBits(buf: Buffer, at: number, bitOffset: number, bitSize: number, value: bigint): void {
  const first = at + (bitOffset >> 3);
  const shift = BigInt(bitOffset & 7);
  const bytes = ((bitOffset & 7) + bitSize + 7) >> 3;
  const mask = ((1n << BigInt(bitSize)) - 1n) << shift;
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[first + i]);
  v = (v & ~mask) | ((BigInt.asUintN(bitSize, value) << shift) & mask);
  for (let i = 0; i < bytes; i++, v >>= 8n) buf[first + i] = Number(v & 0xffn);
}

function bitfieldEncoder(f: Field): Encode {
  const s = f.shape;
  if (s.k !== 'int' && s.k !== 'enum' && s.k !== 'bool') throw new OptionError(`bitfield ${f.name} of a ${s.k} cannot be written`);
  const signed = s.k !== 'bool' && s.signed;
  return (v, buf, at, where) => {
    if (s.k === 'enum') v = enumValue(s, v, where);
    writeBits(buf, at, f.bitOffset, f.bitSize, integer(v, f.bitSize, signed, where));
  };
}

function compositeEncoder(s: Shape & { k: 'struct' | 'union' }): Encode {
  const names = s.members.map((m) => m.name);
  const parts = new Map(
    s.members.map((m) => {
      if (m.bitSize || m.bitOffset % 8) return [m.name, { at: 0, encode: bitfieldEncoder(m.bitSize ? m : { ...m, bitSize: m.shape.size * 8 }) }];
      return [m.name, { at: m.bitOffset >> 3, encode: compileEncoder(m.shape) }];
    }),
  );
  const what = `${s.k} ${s.name || '(anonymous)'}`;
  return (v, buf, at, where) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(where, `an object (${what}: ${names.join(', ')})`, v);
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    if (s.k === 'union' && keys.length > 1) throw new OptionError(`${where}: a union takes one member, got ${keys.join(', ')}`);
    for (const k of keys) {
      const p = parts.get(k);
      if (!p) throw new OptionError(`${where}: ${what} has no member ${k} (it has ${names.join(', ')})`);
      p.encode((v as Record<string, unknown>)[k], buf, at + p.at, `${where}.${k}`);
    }
  };
}
