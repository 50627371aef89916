/**
 * A lazy reader of raw BTF: the kernel's (/sys/kernel/btf/vmlinux) and its
 * modules' split BTF (/sys/kernel/btf/<module>, whose type ids and string
 * offsets continue after vmlinux's).
 *
 * Loading does one pass over the type section to find where each type starts
 * (a few ms for vmlinux's ~130k types); nothing is decoded until asked for.
 * Names are found without an index: the string section is deduplicated, so a
 * name has one offset, found with Buffer.indexOf, then the type words are
 * scanned for it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, SystemError, UnsupportedError } from '../errors';
import { closest } from '../sys/names';
import { Kind, INT_BOOL, INT_CHAR, INT_SIGNED, extraWords, parseHeader } from './format';
import * as T from './types';

export const SYSFS_BTF = '/sys/kernel/btf';

export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Width of a bitfield in bits; 0 for an ordinary member. */
  bitSize: number;
}

export interface BtfParam {
  /** Empty when the prototype does not name it. */
  name: string;
  type: number;
}

export interface BtfEnumValue {
  name: string;
  value: bigint;
}

interface Base<K extends Kind> {
  kind: K;
  id: number;
  /** Empty for anonymous types. */
  name: string;
}

export type BtfVoid = Base<Kind.Unknown>;
export interface BtfInt extends Base<Kind.Int> {
  size: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  /** Significant bits, and their offset (old-style bitfields). */
  bits: number;
  bitOffset: number;
}
export interface BtfRef extends Base<Kind.Ptr | Kind.Typedef | Kind.Volatile | Kind.Const | Kind.Restrict | Kind.TypeTag> {
  type: number;
}
export interface BtfArray extends Base<Kind.Array> {
  type: number;
  indexType: number;
  nelems: number;
}
export interface BtfComposite extends Base<Kind.Struct | Kind.Union> {
  size: number;
  members: BtfMember[];
}
export interface BtfEnum extends Base<Kind.Enum | Kind.Enum64> {
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfFwd extends Base<Kind.Fwd> {
  union: boolean;
}
export interface BtfFunc extends Base<Kind.Func> {
  type: number;
  linkage: number;
}
export interface BtfFuncProto extends Base<Kind.FuncProto> {
  returnType: number;
  params: BtfParam[];
  variadic: boolean;
}
export interface BtfVar extends Base<Kind.Var> {
  type: number;
  linkage: number;
}
export interface BtfDatasec extends Base<Kind.Datasec> {
  size: number;
  vars: Array<{ type: number; offset: number; size: number }>;
}
export interface BtfFloat extends Base<Kind.Float> {
  size: number;
}
export interface BtfDeclTag extends Base<Kind.DeclTag> {
  type: number;
  /** -1: the tag applies to the type itself, else to its member/parameter. */
  componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

/** A function with its prototype, as findFunction returns it. */
export interface BtfFunction {
  /** The FUNC type's id. */
  id: number;
  name: string;
  returnType: number;
  params: BtfParam[];
  variadic: boolean;
  /** BTF linkage: 0 static, 1 global, 2 extern. */
  linkage: number;
  /** The BTF that holds it (vmlinux or a module's split BTF). */
  btf: Btf;
}

export interface LoadOptions {
  /** The BTF a split BTF continues (vmlinux for modules). */
  base?: Btf;
  /** A name for messages: 'vmlinux' or the module name. */
  name?: string;
}

let kernelBtf: Btf | undefined;
const moduleBtfs = new Map<string, Btf>();

export class Btf {
  /** 'vmlinux', a module name, or what the loader was told. */
  readonly name: string;
  readonly base?: Btf;
  /** The first type id this object holds (1 for a base BTF). */
  readonly firstId: number;
  /** One past the last type id (ids of the base included). */
  readonly endId: number;
  /** Milliseconds spent reading and scanning the data. */
  readonly loadMs: number;

  private readonly words: Uint32Array;
  private readonly starts: Uint32Array;
  private readonly strings: Buffer;
  /** Where this object's string offsets start (the base's string length for split BTF). */
  private readonly strBase: number;
  private readonly cache = new Map<number, BtfType>();
  private readonly nameCache = new Map<string, number[]>();
  private functionIndex?: string[];

  private constructor(buf: Buffer, opts: LoadOptions, t0: number) {
    const h = parseHeader(buf);
    this.name = opts.name ?? (opts.base ? 'module' : 'vmlinux');
    this.base = opts.base;
    this.firstId = opts.base ? opts.base.endId : 1;
    this.strBase = opts.base ? opts.base.strBase + opts.base.strings.length : 0;
    const typeStart = h.hdrLen + h.typeOff;
    // A u32 view needs 4-byte alignment in the underlying ArrayBuffer.
    if ((buf.byteOffset + typeStart) % 4 === 0) {
      this.words = new Uint32Array(buf.buffer, buf.byteOffset + typeStart, h.typeLen / 4);
    } else {
      this.words = new Uint32Array(h.typeLen / 4);
      new Uint8Array(this.words.buffer).set(buf.subarray(typeStart, typeStart + h.typeLen));
    }
    this.strings = buf.subarray(h.hdrLen + h.strOff, h.hdrLen + h.strOff + h.strLen);

    const w = this.words;
    const starts = new Uint32Array(Math.floor(w.length / 3) + 1);
    let n = 0;
    for (let i = 0; i < w.length; ) {
      starts[n++] = i;
      const info = w[i + 1];
      i += 3 + extraWords((info >>> 24) & 0x1f, info & 0xffff);
      if (i > w.length) throw new Error(`BTF type ${this.firstId + n - 1} runs past the type section`);
    }
    this.starts = starts.subarray(0, n);
    this.endId = this.firstId + n;
    this.loadMs = performance.now() - t0;
  }

  /** Parses BTF from memory. Throws on malformed data. */
  static fromBuffer(buf: Buffer, opts: LoadOptions = {}): Btf {
    return new Btf(buf, opts, performance.now());
  }

  /** Reads a BTF file; errors become NotFoundError (ENOENT) or SystemError. */
  static load(file: string, opts: LoadOptions = {}): Btf {
    const t0 = performance.now();
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new NotFoundError(`no BTF at ${file}`, [], { errno: err.code });
      throw new SystemError(`cannot read BTF ${file}: ${err.message}`, { errno: err.code, cause: e });
    }
    return new Btf(buf, { name: path.basename(file), ...opts }, t0);
  }

  /** The running kernel's BTF, read once and kept. */
  static kernel(): Btf {
    if (!kernelBtf) {
      try {
        kernelBtf = Btf.load(path.join(SYSFS_BTF, 'vmlinux'), { name: 'vmlinux' });
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        throw new UnsupportedError('btf', `this kernel has no BTF (${SYSFS_BTF}/vmlinux is missing: CONFIG_DEBUG_INFO_BTF is off); arguments can only be read as raw registers`);
      }
    }
    return kernelBtf;
  }

  /** Names of the loaded modules that have BTF. */
  static modules(): string[] {
    try {
      return fs
        .readdirSync(SYSFS_BTF)
        .filter((n) => n !== 'vmlinux')
        .sort();
    } catch {
      return [];
    }
  }

  /** A loaded module's split BTF (on top of the kernel's), read once and kept. */
  static module(name: string): Btf {
    let m = moduleBtfs.get(name);
    if (!m) {
      const file = path.join(SYSFS_BTF, name);
      if (name === 'vmlinux' || name.includes('/') || !fs.existsSync(file)) {
        throw new NotFoundError(`no BTF for kernel module ${name} (is it loaded?)`, closest(name, Btf.modules()));
      }
      m = Btf.load(file, { base: Btf.kernel(), name });
      moduleBtfs.set(name, m);
    }
    return m;
  }

  /** A function of the kernel or of any loaded module (the kernel first). */
  static findFunctionAnywhere(name: string): BtfFunction | null {
    const fn = Btf.kernel().findFunction(name);
    if (fn) return fn;
    for (const mod of Btf.modules()) {
      let btf: Btf;
      try {
        btf = Btf.module(mod);
      } catch {
        continue; // a module unloaded since the directory was listed
      }
      const f = btf.findFunction(name, { own: true });
      if (f) return f;
    }
    return null;
  }

  /**
   * A function of the kernel or a loaded module; NotFoundError with close
   * names (from vmlinux and the modules) when there is none.
   */
  static requireFunction(name: string): BtfFunction {
    const fn = Btf.findFunctionAnywhere(name);
    if (fn) return fn;
    const names = [...Btf.kernel().functionNames()];
    for (const mod of Btf.modules()) {
      try {
        names.push(...Btf.module(mod).functionNames().slice(0, Btf.module(mod).ownFunctionCount()));
      } catch {
        // unloaded meanwhile
      }
    }
    throw new NotFoundError(`no kernel function ${name} in BTF (vmlinux or a loaded module)`, closest(name, names));
  }

  /** Number of FUNC types this object itself holds (functionNames() lists them first). */
  ownFunctionCount(): number {
    let n = 0;
    const w = this.words;
    for (const at of this.starts) if (((w[at + 1] >>> 24) & 0x1f) === Kind.Func) n++;
    return n;
  }

  /** Number of types this object itself holds. */
  get ownTypes(): number {
    return this.starts.length;
  }

  // ---- raw access -------------------------------------------------------

  /** The string at offset `off` of the (combined) string section. */
  str(off: number): string {
    if (off < this.strBase) return this.base!.str(off);
    const s = this.strings;
    const at = off - this.strBase;
    if (at >= s.length) throw new RangeError(`BTF string offset ${off} out of range`);
    const end = s.indexOf(0, at);
    return s.toString('latin1', at, end < 0 ? s.length : end);
  }

  private word(id: number): number {
    const i = id - this.firstId;
    if (i < 0 || i >= this.starts.length) throw new RangeError(`BTF type id ${id} out of range`);
    return this.starts[i];
  }

  /** The kind of type `id`, without decoding it. */
  kind(id: number): Kind {
    if (id === 0) return Kind.Unknown;
    if (id < this.firstId) return this.base!.kind(id);
    return (this.words[this.word(id) + 1] >>> 24) & 0x1f;
  }

  /** Type `id`, decoded (and cached). Id 0 is void. */
  type(id: number): BtfType {
    if (id === 0) return { kind: Kind.Unknown, id: 0, name: 'void' };
    if (id < this.firstId) {
      if (!this.base) throw new RangeError(`BTF type id ${id} out of range`);
      return this.base.type(id);
    }
    let t = this.cache.get(id);
    if (!t) {
      t = this.decode(id);
      this.cache.set(id, t);
    }
    return t;
  }

  private decode(id: number): BtfType {
    const w = this.words;
    const at = this.word(id);
    const name = this.str(w[at]);
    const info = w[at + 1];
    const kind = ((info >>> 24) & 0x1f) as Kind;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const sizeOrType = w[at + 2];
    const x = at + 3; // extra words
    const s32 = (v: number) => v | 0;
    switch (kind) {
      case Kind.Int: {
        const enc = w[x];
        const e = (enc >>> 24) & 0x0f;
        return {
          kind, id, name, size: sizeOrType,
          signed: (e & INT_SIGNED) !== 0, char: (e & INT_CHAR) !== 0, bool: (e & INT_BOOL) !== 0,
          bits: enc & 0xff, bitOffset: (enc >>> 16) & 0xff,
        };
      }
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
        return { kind, id, name, type: sizeOrType };
      case Kind.Array:
        return { kind, id, name, type: w[x], indexType: w[x + 1], nelems: w[x + 2] };
      case Kind.Struct:
      case Kind.Union: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 3 * i;
          const off = w[m + 2];
          // kind_flag: bitfield size in the top 8 bits, bit offset in the low 24.
          members.push({
            name: this.str(w[m]), type: w[m + 1],
            bitOffset: kflag ? off & 0xffffff : off, bitSize: kflag ? off >>> 24 : 0,
          });
        }
        // Without kind_flag a bitfield is described by its INT type (old encoding).
        if (!kflag) {
          for (const m of members) {
            const t = this.type(m.type);
            if (t.kind === Kind.Int && (t.bits !== t.size * 8 || t.bitOffset !== 0)) {
              m.bitOffset += t.bitOffset;
              m.bitSize = t.bits;
            }
          }
        }
        return { kind, id, name, size: sizeOrType, members };
      }
      case Kind.Enum: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const v = w[x + 2 * i + 1];
          values.push({ name: this.str(w[x + 2 * i]), value: BigInt(kflag ? s32(v) : v) });
        }
        return { kind, id, name, size: sizeOrType, signed: kflag, values };
      }
      case Kind.Enum64: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 3 * i;
          const v = (BigInt(w[m + 2]) << 32n) | BigInt(w[m + 1]);
          values.push({ name: this.str(w[m]), value: kflag ? BigInt.asIntN(64, v) : v });
        }
        return { kind, id, name, size: sizeOrType, signed: kflag, values };
      }
      case Kind.Fwd:
        return { kind, id, name, union: kflag };
      case Kind.Func:
        return { kind, id, name, type: sizeOrType, linkage: vlen };
      case Kind.FuncProto: {
        const params: BtfParam[] = [];
        let variadic = false;
        for (let i = 0; i < vlen; i++) {
          const p = { name: this.str(w[x + 2 * i]), type: w[x + 2 * i + 1] };
          // A trailing unnamed void parameter marks `...`.
          if (i === vlen - 1 && p.type === 0 && p.name === '') variadic = true;
          else params.push(p);
        }
        return { kind, id, name, returnType: sizeOrType, params, variadic };
      }
      case Kind.Var:
        return { kind, id, name, type: sizeOrType, linkage: w[x] };
      case Kind.Datasec: {
        const vars = [];
        for (let i = 0; i < vlen; i++) vars.push({ type: w[x + 3 * i], offset: w[x + 3 * i + 1], size: w[x + 3 * i + 2] });
        return { kind, id, name, size: sizeOrType, vars };
      }
      case Kind.Float:
        return { kind, id, name, size: sizeOrType };
      case Kind.DeclTag:
        return { kind, id, name, type: sizeOrType, componentIdx: s32(w[x]) };
      default:
        throw new Error(`unknown BTF kind ${kind} (type ${id})`);
    }
  }

  // ---- lookups by name --------------------------------------------------

  /** Offsets (in the combined string space) at which the string `name` is stored. */
  private stringOffsets(name: string): number[] {
    const out = this.base ? this.base.stringOffsets(name) : [];
    if (name === '') return [0];
    const needle = Buffer.from(`\0${name}\0`, 'latin1');
    const s = this.strings;
    for (let at = s.indexOf(needle); at >= 0; at = s.indexOf(needle, at + 1)) out.push(this.strBase + at + 1);
    // A split BTF's own section starts with a name at offset 0 too.
    if (this.base && s.length > name.length && s.subarray(0, name.length + 1).equals(needle.subarray(1))) {
      out.push(this.strBase);
    }
    return out;
  }

  /**
   * Ids of the types named `name` of one of `kinds`, this object's own
   * first, then its base's (unless `own`).
   */
  findByName(name: string, kinds: Kind[], opts: { own?: boolean } = {}): number[] {
    const key = `${kinds.join(',')}:${opts.own ? 1 : 0}:${name}`;
    const hit = this.nameCache.get(key);
    if (hit) return hit;
    const offs = this.stringOffsets(name);
    const ids: number[] = [];
    if (offs.length) {
      const w = this.words;
      const st = this.starts;
      let kindMask = 0;
      for (const k of kinds) kindMask |= 1 << k;
      const one = offs.length === 1 ? offs[0] : -1;
      for (let i = 0; i < st.length; i++) {
        const at = st[i];
        const no = w[at];
        if (one >= 0 ? no !== one : !offs.includes(no)) continue;
        if (kindMask & (1 << ((w[at + 1] >>> 24) & 0x1f))) ids.push(this.firstId + i);
      }
    }
    if (this.base && !opts.own) ids.push(...this.base.findByName(name, kinds));
    this.nameCache.set(key, ids);
    return ids;
  }

  /** A function's prototype, or null when this BTF has no such function. */
  findFunction(name: string, opts: { own?: boolean } = {}): BtfFunction | null {
    for (const id of this.findByName(name, [Kind.Func], opts)) {
      const f = this.type(id) as BtfFunc;
      const proto = this.type(f.type);
      if (proto.kind !== Kind.FuncProto) continue;
      return {
        id, name, returnType: proto.returnType, params: proto.params, variadic: proto.variadic,
        linkage: f.linkage, btf: this.ownerOf(id),
      };
    }
    return null;
  }

  /** The object (this or a base) whose own types include `id`. */
  private ownerOf(id: number): Btf {
    return id >= this.firstId || !this.base ? this : this.base.ownerOf(id);
  }

  /** Every function name (built on first use; for suggestions). */
  functionNames(): string[] {
    if (!this.functionIndex) {
      const names: string[] = [];
      const w = this.words;
      for (const at of this.starts) {
        if (((w[at + 1] >>> 24) & 0x1f) === Kind.Func) names.push(this.str(w[at]));
      }
      this.functionIndex = this.base ? names.concat(this.base.functionNames()) : names;
    }
    return this.functionIndex;
  }

  /** Every name of a type of one of `kinds` (for suggestions; not cached). */
  namesOfKind(kinds: Kind[]): string[] {
    const names = new Set<string>(this.base ? this.base.namesOfKind(kinds) : []);
    const w = this.words;
    for (const at of this.starts) {
      if (kinds.includes((w[at + 1] >>> 24) & 0x1f) && w[at] !== 0) names.add(this.str(w[at]));
    }
    return [...names];
  }

  /** A struct by name, preferring a full definition. */
  findStruct(name: string): number | null {
    return this.findComposite(name, Kind.Struct);
  }

  findUnion(name: string): number | null {
    return this.findComposite(name, Kind.Union);
  }

  private findComposite(name: string, kind: Kind.Struct | Kind.Union): number | null {
    const ids = this.findByName(name, [kind, Kind.Fwd]);
    // A definition with members beats an empty one, which beats a forward declaration.
    let best: number | null = null;
    let score = -1;
    for (const id of ids) {
      const t = this.type(id);
      const s = t.kind === kind ? (t.members.length ? 2 : 1) : t.kind === Kind.Fwd && t.union === (kind === Kind.Union) ? 0 : -1;
      if (s > score) [best, score] = [id, s];
    }
    return best;
  }

  /** An enum (32- or 64-bit) by name. */
  findEnum(name: string): number | null {
    const ids = this.findByName(name, [Kind.Enum, Kind.Enum64]);
    return ids.find((id) => (this.type(id) as BtfEnum).values.length) ?? ids[0] ?? null;
  }

  findTypedef(name: string): number | null {
    return this.findByName(name, [Kind.Typedef])[0] ?? null;
  }

  /** An INT or FLOAT by its BTF name (`int`, `long unsigned int`, `_Bool`). */
  findBaseType(name: string): number | null {
    return this.findByName(name, [Kind.Int, Kind.Float])[0] ?? null;
  }

  /** Enum types that have an enumerator called `name`, with its value. */
  findEnumerator(name: string): Array<{ enumId: number; value: bigint }> {
    const offs = new Set(this.stringOffsets(name));
    const out: Array<{ enumId: number; value: bigint }> = [];
    if (!offs.size) return out;
    const scan = (btf: Btf) => {
      const w = btf.words;
      for (let i = 0; i < btf.starts.length; i++) {
        const at = btf.starts[i];
        const info = w[at + 1];
        const kind = (info >>> 24) & 0x1f;
        if (kind !== Kind.Enum && kind !== Kind.Enum64) continue;
        const stride = kind === Kind.Enum ? 2 : 3;
        for (let j = 0; j < (info & 0xffff); j++) {
          if (!offs.has(w[at + 3 + stride * j])) continue;
          const id = btf.firstId + i;
          const e = btf.type(id) as BtfEnum;
          out.push({ enumId: id, value: e.values[j].value });
        }
      }
    };
    scan(this);
    if (this.base) out.push(...this.base.findEnumerator(name));
    return out;
  }

  // ---- type utilities (lib/btf/types.ts) --------------------------------

  /** Skips const/volatile/restrict/type tags (not typedefs). */
  skipModifiers(id: number): number {
    return T.skipModifiers(this, id);
  }

  /** Skips modifiers and typedefs: the type a value really has. */
  resolve(id: number): number {
    return T.resolve(this, id);
  }

  sizeOf(id: number): number {
    return T.sizeOf(this, id);
  }

  /** C spelling of a type, with an optional declarator name: `const char *name`. */
  typeToString(id: number, name = ''): string {
    return T.typeToString(this, id, name);
  }

  /** Whether a one-byte type reads as text ('char') or as bytes ('byte'); see types.ts. */
  charKind(id: number): 'char' | 'byte' | false {
    return T.charKind(this, id);
  }

  /** A member by name, looking through anonymous struct/union members. */
  findMember(id: number, name: string): BtfMember | null {
    return T.findMember(this, id, name);
  }

  /** Member names, anonymous members flattened. */
  memberNames(id: number): string[] {
    return T.memberNames(this, id);
  }

  /** `int vfs_fsync_range(struct file *file, loff_t start, loff_t end, int datasync)` */
  prototype(fn: BtfFunction): string {
    return T.prototype(this, fn);
  }
}
