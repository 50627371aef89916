/**
 * A compiled BPF object (clang -g -O2 -target bpf) read without the kernel:
 * its programs (from the ELF symbols and section names), its maps (from the
 * BTF `.maps` section, as libbpf reads them), its global variables (the
 * `.rodata`, `.data` and `.bss` sections, offsets from the symbol table) and
 * its BTF, parsed by the same reader as the kernel's. Generated typings and
 * the loader both start here; nothing depends on the running kernel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, OptionError, SystemError } from '../errors';
import { Btf, BtfComposite, Kind } from '../btf';
import { EM_BPF, ElfFile, SHF_EXECINSTR } from '../sys/elf';
import { SectionInfo, parseSection } from './sections';

const ET_REL = 1;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const VAR_STATIC = 0;

/** BPF_MAP_TYPE_* by number, as short names. */
export const MAP_TYPES = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array', 'stack_trace',
  'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps', 'hash_of_maps', 'devmap', 'sockmap',
  'cpumap', 'xskmap', 'sockhash', 'cgroup_storage', 'reuseport_sockarray', 'percpu_cgroup_storage', 'queue', 'stack',
  'sk_storage', 'devmap_hash', 'struct_ops', 'ringbuf', 'inode_storage', 'task_storage', 'bloom_filter', 'user_ringbuf',
  'cgrp_storage', 'arena',
] as const;

export type MapKind = (typeof MAP_TYPES)[number];

/** Map kinds whose values are one per CPU. */
export const PER_CPU: ReadonlySet<MapKind> = new Set<MapKind>(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);

export interface ObjectProgram {
  /** The C function's name. */
  name: string;
  /** Its ELF section: `tracepoint/syscalls/sys_enter_getppid`. */
  section: string;
  attach: SectionInfo;
}

export interface ObjectMap {
  /** As declared (`counts`), or the data section for global variables (`.rodata`, `.bss`). */
  name: string;
  kind: MapKind;
  /** BTF ids of the key and value types, when the definition names them (`__type(key, ...)`). */
  keyType?: number;
  valueType?: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** A global data section rather than a declared map. */
  internal: boolean;
}

export interface ObjectVariable {
  name: string;
  /** The data section holding it: `.rodata`, `.data`, `.bss`, `.data.custom`. */
  section: string;
  offset: number;
  size: number;
  /** BTF id of its type (with const/volatile). */
  type: number;
  /** `const volatile`: set before load, read-only after. */
  readonly: boolean;
}

export class ObjectFile {
  private constructor(
    /** The object's name: the file name without `.bpf.o` / `.o`. */
    readonly name: string,
    readonly image: Buffer,
    readonly btf: Btf,
    readonly programs: ObjectProgram[],
    readonly maps: ObjectMap[],
    readonly variables: ObjectVariable[],
  ) {}

  /** Reads and parses an object file. */
  static read(file: string): ObjectFile {
    let image: Buffer;
    try {
      image = fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`no BPF object ${file}`, [], { errno: code });
      if (code === 'EISDIR') throw new OptionError(`${file} is a directory, not a BPF object`);
      throw new SystemError(`cannot read ${file}: ${(e as Error).message}`, { errno: code });
    }
    return ObjectFile.parse(image, objectName(file));
  }

  /** Parses an object held in memory; `name` names it (libbpf prefixes its data maps with it). */
  static parse(image: Buffer, name: string): ObjectFile {
    const elf = ElfFile.fromBuffer(image, name);
    if (elf.machine !== EM_BPF) throw new OptionError(`${name} is not a BPF object (ELF machine ${elf.machine}): compile it with clang -target bpf`);
    if (elf.type !== ET_REL) throw new OptionError(`${name} is not a relocatable BPF object (ELF type ${elf.type}): compile it with clang -c`);
    const raw = elf.sectionData('.BTF');
    if (!raw) throw new OptionError(`${name} has no BTF (.BTF section): compile it with clang -g, which CO-RE and typed maps need`);
    let btf: Btf;
    try {
      btf = Btf.fromBuffer(raw, { name });
    } catch (e) {
      throw new OptionError(`${name}: its BTF cannot be read: ${(e as Error).message}`);
    }
    const symbols = elf.objectSymbols();

    const programs: ObjectProgram[] = [];
    for (const sym of symbols) {
      const sec = elf.sections[sym.section];
      if (sym.type !== STT_FUNC || !sec || !(sec.flags & SHF_EXECINSTR) || sec.name === '.text') continue;
      programs.push({ name: sym.name, section: sec.name, attach: parseSection(sec.name) });
    }

    // Variables: their types from the DATASEC, their offsets from the symbols (clang leaves them 0 in BTF).
    const variables: ObjectVariable[] = [];
    const maps: ObjectMap[] = [];
    for (const id of datasecs(btf)) {
      const sec = btf.type(id);
      if (sec.kind !== Kind.Datasec) continue;
      if (sec.name === '.maps') {
        for (const v of sec.vars) maps.push(mapDefinition(btf, v.type, name));
        continue;
      }
      if (!/^\.(rodata|data|bss)(\.|$)/.test(sec.name)) continue;
      const index = elf.sections.findIndex((s) => s.name === sec.name);
      for (const v of sec.vars) {
        const variable = btf.type(v.type);
        // Static variables (function-local ones included) are the program's own, as in libbpf skeletons.
        if (variable.kind !== Kind.Var || variable.linkage === VAR_STATIC) continue;
        const sym = symbols.find((s) => s.name === variable.name && s.section === index && s.type === STT_OBJECT);
        if (!sym) continue;
        variables.push({
          name: variable.name,
          section: sec.name,
          offset: sym.value,
          size: btf.sizeOf(variable.type),
          type: variable.type,
          readonly: sec.name.startsWith('.rodata'),
        });
      }
    }
    // Data sections become array maps of one entry, as libbpf makes them.
    for (const s of elf.sections) {
      if (!/^\.(rodata|data|bss)(\.|$)/.test(s.name) || !s.size) continue;
      maps.push({ name: s.name, kind: 'array', keySize: 4, valueSize: s.size, maxEntries: 1, flags: 0, internal: true });
    }
    if (elf.sections.some((s) => s.name === 'maps')) {
      throw new OptionError(`${name} defines maps in a legacy "maps" section; declare them with SEC(".maps") and __uint/__type, as libbpf 1.0 requires`);
    }
    return new ObjectFile(name, image, btf, programs, maps, variables);
  }

  program(name: string): ObjectProgram | undefined {
    return this.programs.find((p) => p.name === name);
  }

  map(name: string): ObjectMap | undefined {
    return this.maps.find((m) => m.name === name);
  }

  /**
   * A type of the object's BTF by its C name: `struct event`, `union u`,
   * `enum kind` or a typedef (`event_t`), or a base type (`u64`, `int`).
   */
  findType(cName: string): number | undefined {
    const m = /^\s*(struct|union|enum)\s+([A-Za-z_]\w*)\s*$/.exec(cName);
    if (m) {
      const id = m[1] === 'struct' ? this.btf.findStruct(m[2]) : m[1] === 'union' ? this.btf.findUnion(m[2]) : this.btf.findEnum(m[2]);
      return id ?? undefined;
    }
    const name = cName.trim();
    return this.btf.findTypedef(name) ?? this.btf.findBaseType(name) ?? undefined;
  }

  /** The C names of every named struct, union, enum and typedef in the object's BTF. */
  typeNames(): string[] {
    const out: string[] = [];
    for (let id = 1; id < this.btf.endId; id++) {
      const t = this.btf.type(id);
      if (!t.name) continue;
      if (t.kind === Kind.Struct) out.push(`struct ${t.name}`);
      else if (t.kind === Kind.Union) out.push(`union ${t.name}`);
      else if (t.kind === Kind.Enum || t.kind === Kind.Enum64) out.push(`enum ${t.name}`);
      else if (t.kind === Kind.Typedef) out.push(t.name);
    }
    return [...new Set(out)];
  }
}

/** `dir/counts.bpf.o` -> `counts`. */
export function objectName(file: string): string {
  return path.basename(file).replace(/(\.bpf)?\.o$/, '') || 'object';
}

/** Every DATASEC id: one per data section with BTF-described variables, and `.maps`. */
function datasecs(btf: Btf): number[] {
  const out: number[] = [];
  for (let id = 1; id < btf.endId; id++) if (btf.kind(id) === Kind.Datasec) out.push(id);
  return out;
}

/**
 * A map declared in `.maps`: a struct whose members encode the attributes
 * as pointer types, `__uint(max_entries, 1024)` being `int (*max_entries)[1024]`
 * and `__type(key, struct key)` being `struct key *key`.
 */
function mapDefinition(btf: Btf, varId: number, object: string): ObjectMap {
  const v = btf.type(varId);
  const name = v.name;
  const def = btf.type(btf.resolve((v as { type: number }).type));
  if (def.kind !== Kind.Struct) throw new OptionError(`${object}: map ${name} is not a struct in .maps`);
  const number = (m: BtfComposite['members'][number]): number => {
    const ptr = btf.type(btf.resolve(m.type));
    const arr = ptr.kind === Kind.Ptr ? btf.type(btf.resolve(ptr.type)) : ptr;
    if (arr.kind !== Kind.Array) throw new OptionError(`${object}: map ${name}: ${m.name} is not written with __uint()`);
    return arr.nelems;
  };
  const pointee = (m: BtfComposite['members'][number]): number => {
    const ptr = btf.type(btf.resolve(m.type));
    if (ptr.kind !== Kind.Ptr) throw new OptionError(`${object}: map ${name}: ${m.name} is not written with __type()`);
    return ptr.type;
  };
  const out: ObjectMap = { name, kind: 'unspec', keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, internal: false };
  for (const m of def.members) {
    switch (m.name) {
      case 'type':
        out.kind = MAP_TYPES[number(m)] ?? 'unspec';
        break;
      case 'max_entries':
        out.maxEntries = number(m);
        break;
      case 'map_flags':
        out.flags = number(m);
        break;
      case 'key_size':
        out.keySize = number(m);
        break;
      case 'value_size':
        out.valueSize = number(m);
        break;
      case 'key':
        out.keyType = pointee(m);
        out.keySize = btf.sizeOf(out.keyType);
        break;
      case 'value':
        out.valueType = pointee(m);
        out.valueSize = btf.sizeOf(out.valueType);
        break;
      default:
        break; // pinning, numa_node, map_extra, values (maps of maps)
    }
  }
  return out;
}
