/**
 * A BTF file as bpftool prints it (`format raw`): an independent reading
 * that the BTF reader's output and the fetch compiler's offsets are checked
 * against. The unit tests dump the fixture (test/fixtures/kernel.c), the
 * host tests /sys/kernel/btf/vmlinux.
 */
import { execFileSync } from 'child_process';
import { Btf, BtfType, Kind } from '../../lib/btf';

export interface RawMember {
  name: string;
  type: number;
  bitsOffset: number;
  bitfieldSize: number;
}

export interface RawType {
  id: number;
  kind: string;
  name: string;
  /** key=value attributes of the first line (size, type_id, vlen, …). */
  attrs: Record<string, string>;
  /** Member/parameter/enumerator/variable lines, as key=value maps plus the quoted name. */
  items: Array<{ name: string; attrs: Record<string, string> }>;
}

function attrs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-z_]+)=([^\s,]+)/g)) out[m[1]] = m[2];
  return out;
}

function parse(text: string): Map<number, RawType> {
  const types = new Map<number, RawType>();
  let cur: RawType | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) {
      const m = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
      if (!m) throw new Error(`unexpected bpftool line: ${line}`);
      cur = { id: Number(m[1]), kind: m[2], name: m[3] === '(anon)' ? '' : m[3], attrs: attrs(m[4]), items: [] };
      types.set(cur.id, cur);
    } else if (line.startsWith('\t') && cur) {
      const m = /^\t(?:'([^']*)')?(.*)$/.exec(line)!;
      cur.items.push({ name: m[1] ?? '', attrs: attrs(m[2]) });
    }
  }
  return types;
}

export function members(t: RawType): RawMember[] {
  return t.items.map((i) => ({
    name: i.name === '(anon)' ? '' : i.name,
    type: Number(i.attrs.type_id),
    bitsOffset: Number(i.attrs.bits_offset),
    bitfieldSize: Number(i.attrs.bitfield_size ?? 0),
  }));
}

const dumps = new Map<string, BpftoolDump>();

export class BpftoolDump {
  private constructor(
    readonly file: string,
    /** Every type by id. */
    readonly types: Map<number, RawType>,
  ) {}

  /** `bpftool btf dump file <file> format raw`, run once per file. */
  static of(file: string): BpftoolDump {
    let d = dumps.get(file);
    if (!d) {
      const text = execFileSync('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw'], { maxBuffer: 1 << 30, encoding: 'utf8' });
      d = new BpftoolDump(file, parse(text));
      if (d.types.size === 0) throw new Error(`bpftool printed no types for ${file}`);
      dumps.set(file, d);
    }
    return d;
  }

  /** Ids of the types of `kind` named `name`. */
  idsNamed(kind: string, name: string): number[] {
    const out: number[] = [];
    for (const t of this.types.values()) if (t.kind === kind && t.name === name) out.push(t.id);
    return out;
  }

  /** Skips typedefs and qualifiers. */
  resolved(id: number): RawType | undefined {
    let t = this.types.get(id);
    while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = this.types.get(Number(t.attrs.type_id));
    return t;
  }

  /**
   * The bit offset and type of `path` (member names, through anonymous members)
   * inside struct `struct`, walked independently of lib/btf.
   */
  memberPath(struct: string, path: string[]): { bits: number; type: number; bitfieldSize: number } {
    const structs = this.idsNamed('STRUCT', struct).map((id) => this.types.get(id)!);
    let t: RawType = structs.sort((a, b) => b.items.length - a.items.length)[0];
    if (!t) throw new Error(`no struct ${struct} in the bpftool dump of ${this.file}`);
    let bits = 0;
    let type = t.id;
    let bitfieldSize = 0;
    const find = (s: RawType, name: string): { bits: number; m: RawMember } | undefined => {
      for (const m of members(s)) {
        if (m.name === name) return { bits: m.bitsOffset, m };
        if (m.name === '') {
          const inner = this.resolved(m.type);
          const f = inner && find(inner, name);
          if (f) return { bits: f.bits + m.bitsOffset, m: f.m };
        }
      }
      return undefined;
    };
    for (const name of path) {
      const f = find(t, name);
      if (!f) throw new Error(`no member ${name} in ${t.name}`);
      bits += f.bits;
      type = f.m.type;
      bitfieldSize = f.m.bitfieldSize;
      t = this.resolved(type)!;
    }
    return { bits, type, bitfieldSize };
  }

  /** Byte offset of a member path, for members that are not bitfields. */
  offsetOf(struct: string, ...path: string[]): number {
    const { bits } = this.memberPath(struct, path);
    if (bits % 8) throw new Error(`${struct}.${path.join('.')} is not byte-aligned`);
    return bits / 8;
  }
}

// ---- the reader's decoding against bpftool's, type by type ---------------

export const KIND_NAMES: Record<number, string> = {
  [Kind.Int]: 'INT', [Kind.Ptr]: 'PTR', [Kind.Array]: 'ARRAY', [Kind.Struct]: 'STRUCT', [Kind.Union]: 'UNION',
  [Kind.Enum]: 'ENUM', [Kind.Fwd]: 'FWD', [Kind.Typedef]: 'TYPEDEF', [Kind.Volatile]: 'VOLATILE', [Kind.Const]: 'CONST',
  [Kind.Restrict]: 'RESTRICT', [Kind.Func]: 'FUNC', [Kind.FuncProto]: 'FUNC_PROTO', [Kind.Var]: 'VAR',
  [Kind.Datasec]: 'DATASEC', [Kind.Float]: 'FLOAT', [Kind.DeclTag]: 'DECL_TAG', [Kind.TypeTag]: 'TYPE_TAG', [Kind.Enum64]: 'ENUM64',
};

/** What bpftool prints for a type, as compared. */
export type Shape = { kind: string; name: string; attrs: Record<string, string>; items: unknown[] };

/** What bpftool should print for a type, computed from the reader's decoding. */
export function readerShape(t: BtfType): Shape {
  const a: Record<string, string> = {};
  let items: unknown[] = [];
  switch (t.kind) {
    case Kind.Int:
      Object.assign(a, { size: `${t.size}`, bits_offset: `${t.bitOffset}`, nr_bits: `${t.bits}` });
      a.encoding = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
      break;
    case Kind.Ptr: case Kind.Typedef: case Kind.Volatile: case Kind.Const: case Kind.Restrict: case Kind.TypeTag:
      a.type_id = `${t.type}`;
      break;
    case Kind.Array:
      Object.assign(a, { type_id: `${t.type}`, index_type_id: `${t.indexType}`, nr_elems: `${t.nelems}` });
      break;
    case Kind.Struct: case Kind.Union:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.members.length}` });
      items = t.members.map((m) => ({ name: m.name, type: m.type, bitsOffset: m.bitOffset, bitfieldSize: m.bitSize }));
      break;
    case Kind.Enum: case Kind.Enum64:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.values.length}`, encoding: t.signed ? 'SIGNED' : 'UNSIGNED' });
      items = t.values.map((v) => `${v.name}=${v.value}`);
      break;
    case Kind.Fwd:
      a.fwd_kind = t.union ? 'union' : 'struct';
      break;
    case Kind.Func:
      Object.assign(a, { type_id: `${t.type}`, linkage: ['static', 'global', 'extern'][t.linkage] });
      break;
    case Kind.FuncProto:
      Object.assign(a, { ret_type_id: `${t.returnType}`, vlen: `${t.params.length + (t.variadic ? 1 : 0)}` });
      items = t.params.map((p) => `${p.name}:${p.type}`).concat(t.variadic ? [':0'] : []);
      break;
    case Kind.Var:
      Object.assign(a, { type_id: `${t.type}`, linkage: ['static', 'global', 'extern'][t.linkage] });
      break;
    case Kind.Datasec:
      Object.assign(a, { size: `${t.size}`, vlen: `${t.vars.length}` });
      items = t.vars.map((v) => `${v.type}@${v.offset}+${v.size}`);
      break;
    case Kind.Float:
      a.size = `${t.size}`;
      break;
    case Kind.DeclTag:
      Object.assign(a, { type_id: `${t.type}`, component_idx: `${t.componentIdx}` });
      break;
  }
  return { kind: KIND_NAMES[t.kind], name: t.name, attrs: a, items };
}

/** The same view of bpftool's line, restricted to the attributes compared. */
export function bpftoolShape(r: RawType, keys: string[]): Shape {
  const a: Record<string, string> = {};
  for (const k of keys) a[k] = r.attrs[k];
  let items: unknown[] = [];
  switch (r.kind) {
    case 'STRUCT': case 'UNION':
      items = members(r);
      break;
    case 'ENUM': case 'ENUM64':
      items = r.items.map((i) => `${i.name}=${BigInt(i.attrs.val.replace(/U?LL$/, ''))}`);
      break;
    case 'FUNC_PROTO':
      items = r.items.map((i) => `${i.name === '(anon)' ? '' : i.name}:${i.attrs.type_id}`);
      break;
    case 'DATASEC':
      items = r.items.map((i) => `${i.attrs.type_id}@${i.attrs.offset}+${i.attrs.size}`);
      break;
  }
  return { kind: r.kind, name: r.name, attrs: a, items };
}

/**
 * Decodes every type `btf` itself holds and expects bpftool's reading of
 * the same file, type by type; returns the number compared.
 */
export function expectSameAsBpftool(btf: Btf, dump: BpftoolDump): number {
  let [lo, hi] = [Infinity, 0];
  for (const id of dump.types.keys()) [lo, hi] = [Math.min(lo, id), Math.max(hi, id)];
  expect([btf.firstId, btf.endId - 1]).toEqual([lo, hi]);
  let compared = 0;
  for (let id = btf.firstId; id < btf.endId; id++) {
    const mine = readerShape(btf.type(id));
    const theirs = bpftoolShape(dump.types.get(id)!, Object.keys(mine.attrs));
    // Stringified first: one toEqual per type would take minutes on vmlinux.
    if (JSON.stringify(mine) !== JSON.stringify(theirs)) expect({ id, ...mine }).toEqual({ id, ...theirs });
    compared++;
  }
  expect(compared).toBe(dump.types.size);
  return compared;
}
