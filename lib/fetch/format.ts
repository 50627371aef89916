/**
 * How a fetched value is shown: ArgDecoder says it, formatValue does it.
 * The event decoder hands in the payload entry: a bigint for scalars (the
 * kernel has already truncated, sign-extended and shifted bitfields), a
 * Buffer for strings and bytes.
 */
import type { FlagName } from './flags';

export type DecodeKind = 'int' | 'uint' | 'hex' | 'pointer' | 'bool' | 'char' | 'string' | 'bytes' | 'enum' | 'flags';

export interface ArgDecoder {
  kind: DecodeKind;
  /** Scalar width in bytes (1, 2, 4, 8), or the longest string/byte run fetched. */
  size: number;
  signed: boolean;
  /** The value's C type, e.g. `const char *`, `enum fuse_opcode`, `loff_t`, `u64`. */
  type: string;
  /** Bitfield width, when the value is one. */
  bitSize?: number;
  /** enum: the enum's name (empty for an anonymous one). */
  enumName?: string;
  /** enum: value -> name. */
  names?: Map<bigint, string>;
  /** flags: the names of bits and fields. */
  flags?: FlagName[];
  /** string/bytes: read from user memory. */
  user?: boolean;
}

/** A payload entry: a scalar as read (u64), or the bytes of a string/byte entry. */
export type RawValue = bigint | number | Buffer;

function scalar(d: ArgDecoder, raw: RawValue): bigint {
  let v: bigint;
  if (Buffer.isBuffer(raw)) v = raw.length >= 8 ? raw.readBigUInt64LE(0) : BigInt(`0x${Buffer.from(raw).reverse().toString('hex') || '0'}`);
  else v = BigInt(raw);
  return d.signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
}

function bits(d: ArgDecoder): number {
  return d.bitSize || Math.min(8, d.size || 8) * 8;
}

function hex(v: bigint, width: number): string {
  return `0x${BigInt.asUintN(width, v).toString(16)}`;
}

/** `O_WRONLY|O_CREAT|0x100000`: fields first, then single bits, then what is left in hex. */
export function formatFlags(flags: readonly FlagName[], v: bigint, width = 64): string {
  v = BigInt.asUintN(width, v);
  // A whole-value name wins, unless the set has fields (O_RDONLY is the 0 of O_ACCMODE and always shows).
  const exact = flags.some((f) => f.mask !== undefined) ? undefined : flags.find((f) => f.value === v);
  if (exact) return exact.name;
  const parts: string[] = [];
  let rest = v;
  for (const f of flags) {
    if (f.mask !== undefined && (v & f.mask) === f.value) {
      parts.push(f.name);
      rest &= ~f.mask;
    }
  }
  for (const f of flags) {
    if (f.mask !== undefined || f.value === 0n) continue;
    // Single bits only: a multi-bit alias would hide which bits are set.
    if ((f.value & (f.value - 1n)) === 0n && (rest & f.value) !== 0n) {
      parts.push(f.name);
      rest &= ~f.value;
    }
  }
  if (rest !== 0n || parts.length === 0) parts.push(hex(rest, width));
  return parts.join('|');
}

/** The text shown for one value. */
export function formatValue(d: ArgDecoder, raw: RawValue): string {
  switch (d.kind) {
    case 'string':
      return Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
    case 'bytes':
      return Buffer.isBuffer(raw) ? raw.toString('hex') : hex(BigInt(raw), 64);
    default:
      break;
  }
  const v = scalar(d, raw);
  switch (d.kind) {
    case 'int':
    case 'uint':
      return v.toString();
    case 'hex':
    case 'pointer':
      return hex(v, bits(d));
    case 'bool':
      return v !== 0n ? 'true' : 'false';
    case 'char': {
      const c = Number(BigInt.asUintN(8, v));
      return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : v.toString();
    }
    case 'enum':
      return d.names?.get(v) ?? v.toString();
    case 'flags':
      return formatFlags(d.flags ?? [], v, bits(d));
  }
}
