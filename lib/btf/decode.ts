/**
 * Decoders of value shapes (lib/btf/values.ts), generated as JavaScript: a
 * struct becomes one object literal whose members are read at fixed
 * offsets, so every record of a type gets the same hidden class and no
 * call per member. Ring buffers decode each record with one of these.
 */
import { OptionError } from '../errors';
import type { Field, Shape } from './values';

export type Decode = (buf: Buffer, at: number) => unknown;

/** Arrays up to this length are written out element by element; longer ones loop. */
const UNROLL = 16;

/** Reads `bitSize` bits at `bitOffset` (little-endian) as an unsigned bigint. */
export function readBits(buf: Buffer, at: number, bitOffset: number, bitSize: number): bigint {
  const first = at + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const bytes = (shift + bitSize + 7) >> 3;
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[first + i]);
  return (v >> BigInt(shift)) & ((1n << BigInt(bitSize)) - 1n);
}

/** A C string of at most `size` bytes: up to its NUL. */
function cString(buf: Buffer, at: number, size: number): string {
  const nul = buf.indexOf(0, at);
  return buf.toString('utf8', at, nul < 0 || nul > at + size ? at + size : nul);
}

function int128(buf: Buffer, at: number, signed: boolean): bigint {
  const v = (buf.readBigUInt64LE(at + 8) << 64n) | buf.readBigUInt64LE(at);
  return signed ? BigInt.asIntN(128, v) : v;
}

/** Names by value for an enum's decoder: number keys for enums of up to 32 bits. */
function enumNames(s: Shape & { k: 'enum' }): Map<number | bigint, string> {
  const m = new Map<number | bigint, string>();
  for (const [v, name] of s.names) m.set(s.size > 4 ? v : Number(v), name);
  return m;
}

/** The decoder of shape `s`, compiled. */
export function compileDecoder(s: Shape): Decode {
  const helpers: unknown[] = [];
  const helper = (h: unknown): string => `h${helpers.push(h) - 1}`;
  const at = (off: number) => (off ? `at + ${off}` : 'at');

  const int = (size: number, signed: boolean, o: string): string => {
    switch (size) {
      case 1:
        return signed ? `b.readInt8(${o})` : `b[${o}]`;
      case 2:
        return `b.read${signed ? 'Int16' : 'UInt16'}LE(${o})`;
      case 4:
        return `b.read${signed ? 'Int32' : 'UInt32'}LE(${o})`;
      case 8:
        return `b.read${signed ? 'BigInt64' : 'BigUInt64'}LE(${o})`;
      case 16:
        return `${helper(int128)}(b, ${o}, ${signed})`;
      default:
        throw new OptionError(`a ${size}-byte integer cannot be read`);
    }
  };

  const bitfield = (f: Field, base: number): string => {
    const t = f.shape;
    if (t.k !== 'int' && t.k !== 'enum' && t.k !== 'bool') throw new OptionError(`bitfield ${f.name} of a ${t.k} cannot be read`);
    const signed = t.k !== 'bool' && t.signed;
    const bits = f.bitSize || t.size * 8;
    let v = `${helper(readBits)}(b, ${at(base)}, ${f.bitOffset}, ${bits})`;
    if (signed) v = `BigInt.asIntN(${bits}, ${v})`;
    if (t.k === 'bool') return `(${v} !== 0n)`;
    if (bits <= 32) v = `Number(${v})`;
    if (t.k !== 'enum') return v;
    const names = new Map<number | bigint, string>();
    for (const [value, name] of t.names) names.set(bits > 32 ? value : Number(value), name);
    return `${helper((x: number | bigint) => names.get(x) ?? x)}(${v})`;
  };

  const expr = (t: Shape, off: number): string => {
    const o = at(off);
    switch (t.k) {
      case 'int':
        return int(t.size, t.signed, o);
      case 'ptr':
        return int(8, false, o);
      case 'bool':
        return `(b[${o}] !== 0)`;
      case 'float':
        if (t.size !== 4 && t.size !== 8) throw new OptionError(`a ${t.size}-byte float cannot be read`);
        return `b.read${t.size === 4 ? 'Float' : 'Double'}LE(${o})`;
      case 'enum': {
        const names = enumNames(t);
        return `${helper((x: number | bigint) => names.get(x) ?? x)}(${int(t.size, t.signed, o)})`;
      }
      case 'string':
        return `${helper(cString)}(b, ${o}, ${t.size})`;
      case 'bytes':
        return `new Uint8Array(b.subarray(${o}, ${o} + ${t.size}))`;
      case 'array': {
        if (t.n <= UNROLL) return `[${Array.from({ length: t.n }, (_, i) => expr(t.elem, off + i * t.elem.size)).join(', ')}]`;
        const elem = compileDecoder(t.elem);
        const loop = (buf: Buffer, from: number) => {
          const out = new Array<unknown>(t.n);
          for (let i = 0; i < t.n; i++) out[i] = elem(buf, from + i * t.elem.size);
          return out;
        };
        return `${helper(loop)}(b, ${o})`;
      }
      case 'struct':
      case 'union': {
        const members = t.members.map((m) => {
          const value = m.bitSize || m.bitOffset % 8 ? bitfield(m, off) : expr(m.shape, off + (m.bitOffset >> 3));
          return `${JSON.stringify(m.name)}: ${value}`;
        });
        return `{ ${members.join(', ')} }`;
      }
    }
  };

  const body = expr(s, 0);
  const names = helpers.map((_, i) => `h${i}`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, `'use strict'; return function decode(b, at) { return ${body}; };`)(...helpers) as Decode;
}
