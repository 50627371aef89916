/**
 * The raw BTF format (the kernel's Documentation/bpf/btf.rst): a header, a
 * type section of u32 words and a string section of NUL-terminated names.
 * Only constants and the header live here; reader.ts walks the sections.
 */

export const BTF_MAGIC = 0xeb9f;

export enum Kind {
  Unknown = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

/** Bits of an INT type's encoding. */
export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

export interface BtfHeader {
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Parses the header; throws on a wrong magic or a truncated file. */
export function parseHeader(buf: Buffer): BtfHeader {
  if (buf.length < 24) throw new Error(`BTF data too short (${buf.length} bytes)`);
  const magic = buf.readUInt16LE(0);
  if (magic !== BTF_MAGIC) {
    // Only native (little-endian, x86-64/arm64) BTF is read: the running kernel's.
    throw new Error(magic === 0x9feb ? 'big-endian BTF is not supported' : `not BTF data (magic 0x${magic.toString(16)})`);
  }
  const h: BtfHeader = {
    version: buf.readUInt8(2),
    flags: buf.readUInt8(3),
    hdrLen: buf.readUInt32LE(4),
    typeOff: buf.readUInt32LE(8),
    typeLen: buf.readUInt32LE(12),
    strOff: buf.readUInt32LE(16),
    strLen: buf.readUInt32LE(20),
  };
  if (h.version !== 1) throw new Error(`unsupported BTF version ${h.version}`);
  const end = (off: number, len: number) => h.hdrLen + off + len;
  if (end(h.typeOff, h.typeLen) > buf.length || end(h.strOff, h.strLen) > buf.length) {
    throw new Error('BTF sections extend past the end of the data');
  }
  if (h.typeOff % 4 !== 0 || h.typeLen % 4 !== 0) throw new Error('BTF type section is not 4-byte aligned');
  return h;
}

/** Words (u32) that follow a btf_type's 3-word header, by kind. */
export function extraWords(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.Int:
    case Kind.Var:
    case Kind.DeclTag:
      return 1;
    case Kind.Array:
      return 3;
    case Kind.Struct:
    case Kind.Union:
    case Kind.Datasec:
    case Kind.Enum64:
      return 3 * vlen;
    case Kind.Enum:
    case Kind.FuncProto:
      return 2 * vlen;
    case Kind.Ptr:
    case Kind.Fwd:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.Func:
    case Kind.Float:
    case Kind.TypeTag:
      return 0;
    default:
      throw new Error(`unknown BTF kind ${kind}`);
  }
}
