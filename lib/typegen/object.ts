/**
 * `kprobe-node types obj.bpf.o`: a declaration file for one BPF object, as
 * bpf2go and libbpf-rs skeletons generate code for theirs. It declares the
 * object's named types (structs, unions, enums, typedefs) as the value codec
 * decodes them, and an ObjectSpec naming its maps (kind, key, value), its
 * programs, its `const volatile` and other globals, and its record types,
 * for `openObject<Spec>()`.
 */
import { Kind } from '../btf';
import { valueShape } from '../btf/values';
import { TypeNamer, enumType, objectType, tsType } from '../btf/typescript';
import type { ObjectFile, ObjectVariable } from '../object/parse';

/** TypeScript names a generated type must not take. */
const RESERVED = new Set(['any', 'bigint', 'boolean', 'never', 'null', 'number', 'object', 'string', 'symbol', 'undefined', 'unknown', 'void', 'this', 'Array', 'Uint8Array', 'Buffer']);

export interface ObjectTypesOptions {
  /** The spec's name; default: the object's name in PascalCase + `Spec` (`counts` -> `CountsSpec`). */
  specName?: string;
  /** The command that regenerates the file, for its header. */
  command?: string;
}

interface Declared {
  /** `struct event`, `enum kind`, `event_t`. */
  cName: string;
  tsName: string;
  id: number;
}

/** The .d.ts text for `file`. */
export function objectTypes(file: ObjectFile, opts: ObjectTypesOptions = {}): string {
  const btf = file.btf;
  const declared: Declared[] = [];
  const byId = new Map<number, string>();
  const taken = new Set<string>();
  for (let id = 1; id < btf.endId; id++) {
    const t = btf.type(id);
    if (!t.name) continue;
    let cName: string;
    let tsName: string;
    if (t.kind === Kind.Struct || t.kind === Kind.Union || t.kind === Kind.Enum || t.kind === Kind.Enum64) {
      const tag = t.kind === Kind.Struct ? 'struct' : t.kind === Kind.Union ? 'union' : 'enum';
      cName = `${tag} ${t.name}`;
      tsName = `${tag}_${t.name}`;
    } else if (t.kind === Kind.Typedef) {
      cName = t.name;
      tsName = RESERVED.has(t.name) ? `${t.name}_t` : t.name;
    } else {
      continue;
    }
    if (taken.has(tsName) || !decodable(file, id)) continue;
    taken.add(tsName);
    declared.push({ cName, tsName, id });
    if (t.kind !== Kind.Typedef) byId.set(id, tsName);
  }
  const namer: TypeNamer = (s) => byId.get(s.id);
  const typeOf = (id: number | undefined, size: number) => (id === undefined ? (size ? 'Uint8Array' : 'never') : tsType(valueShape(btf, id), namer, '    '));

  const out: string[] = [];
  const specName = opts.specName ?? `${pascal(file.name)}Spec`;
  out.push(`// Types of the BPF object ${file.name}, written by kprobe-node types: do not edit.`);
  if (opts.command) out.push(`// Regenerate with: ${opts.command}`);
  out.push('//');
  out.push(`//   const obj = openObject<${specName}>('${file.name}.bpf.o').load();`);
  out.push('');

  for (const d of declared) {
    const t = btf.type(d.id);
    const shape = valueShape(btf, d.id);
    // A typedef of a named type refers to it; otherwise the type is spelled out.
    const body =
      t.kind === Kind.Typedef ? tsType(shape, namer) : shape.k === 'enum' ? enumType(shape) : shape.k === 'struct' || shape.k === 'union' ? objectType(shape, namer) : tsType(shape, namer);
    out.push(`/** ${d.cName} (${shape.size} bytes) */`);
    out.push(`export type ${d.tsName} = ${body};`);
    out.push('');
  }

  out.push(`export interface ${specName} {`);
  out.push('  maps: {');
  for (const m of file.maps.filter((x) => !x.internal)) {
    out.push(`    ${prop(m.name)}: { kind: '${m.kind}'; key: ${typeOf(m.keyType, m.keySize)}; value: ${typeOf(m.valueType, m.valueSize)} };`);
  }
  out.push('  };');
  const programs = file.programs.map((p) => `'${p.name}'`);
  out.push(`  programs: ${programs.length ? programs.join(' | ') : 'never'};`);
  const vars = (list: ObjectVariable[]) => list.map((v) => `    ${prop(v.name)}: ${typeOf(v.type, v.size)};`);
  out.push('  rodata: {', ...vars(file.variables.filter((v) => v.readonly && decodable(file, v.type))), '  };');
  out.push('  globals: {', ...vars(file.variables.filter((v) => !v.readonly && decodable(file, v.type))), '  };');
  out.push('  types: {', ...declared.map((d) => `    '${d.cName}': ${d.tsName};`), '  };');
  out.push('}');
  return out.join('\n') + '\n';
}

function decodable(file: ObjectFile, id: number): boolean {
  try {
    valueShape(file.btf, id);
    return true;
  } catch {
    return false;
  }
}

function prop(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

/** `biolatency` -> `Biolatency`, `tcp_retrans` -> `TcpRetrans`. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('')
    .replace(/^(\d)/, '_$1') || 'Object';
}
