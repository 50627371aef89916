/**
 * The kernel's BTF as bpftool prints it (`format raw`): an independent
 * reading of /sys/kernel/btf/vmlinux that the BTF reader's output and the
 * fetch compiler's offsets are checked against.
 */
import { execFileSync } from 'child_process';

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

let cache: Map<number, RawType> | undefined;

function attrs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-z_]+)=([^\s,]+)/g)) out[m[1]] = m[2];
  return out;
}

/** Every type of /sys/kernel/btf/vmlinux by id, from `bpftool btf dump file ... format raw`. */
export function rawDump(): Map<number, RawType> {
  if (cache) return cache;
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
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
  cache = types;
  return types;
}

/** Ids of the types of `kind` named `name`. */
export function idsNamed(kind: string, name: string): number[] {
  const out: number[] = [];
  for (const t of rawDump().values()) if (t.kind === kind && t.name === name) out.push(t.id);
  return out;
}

export function members(t: RawType): RawMember[] {
  return t.items.map((i) => ({
    name: i.name === '(anon)' ? '' : i.name,
    type: Number(i.attrs.type_id),
    bitsOffset: Number(i.attrs.bits_offset),
    bitfieldSize: Number(i.attrs.bitfield_size ?? 0),
  }));
}

/** Skips typedefs and qualifiers. */
export function resolved(id: number): RawType | undefined {
  const types = rawDump();
  let t = types.get(id);
  while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = types.get(Number(t.attrs.type_id));
  return t;
}

/**
 * The bit offset and type of `path` (member names, through anonymous members)
 * inside struct `struct`, walked independently of lib/btf.
 */
export function memberPath(struct: string, path: string[]): { bits: number; type: number; bitfieldSize: number } {
  const structs = idsNamed('STRUCT', struct).map((id) => rawDump().get(id)!);
  let t: RawType = structs.sort((a, b) => b.items.length - a.items.length)[0];
  if (!t) throw new Error(`no struct ${struct} in the bpftool dump`);
  let bits = 0;
  let type = t.id;
  let bitfieldSize = 0;
  const find = (s: RawType, name: string): { bits: number; m: RawMember } | undefined => {
    for (const m of members(s)) {
      if (m.name === name) return { bits: m.bitsOffset, m };
      if (m.name === '') {
        const inner = resolved(m.type);
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
    t = resolved(type)!;
  }
  return { bits, type, bitfieldSize };
}

/** Byte offset of a member path, for members that are not bitfields. */
export function offsetOf(struct: string, ...path: string[]): number {
  const { bits } = memberPath(struct, path);
  if (bits % 8) throw new Error(`${struct}.${path.join('.')} is not byte-aligned`);
  return bits / 8;
}
