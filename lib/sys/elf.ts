/**
 * A small ELF64 reader: just what uprobes, user stacks and BPF objects need.
 * It reads the program headers (to turn virtual addresses into file offsets
 * and back), the section headers, the function symbols of `.symtab` and
 * `.dynsym`, and for relocatable objects (a compiled .bpf.o, read from
 * memory) a section's bytes and every symbol. Only the parts it needs are
 * read from disk, so large binaries stay cheap.
 */
import * as fs from 'fs';
import { NotFoundError, OptionError, SystemError } from '../errors';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
/** A .gnu.version entry with this bit is a non-default version (`name@V`, not `name@@V`). */
const VERSYM_HIDDEN = 0x8000;
const SHN_UNDEF = 0;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHT_NOBITS = 8;
export const SHF_EXECINSTR = 0x4;
export const EM_BPF = 247;

export const ET_EXEC = 2;
export const ET_DYN = 3;

/** A function symbol. `address` is its virtual address, as `nm` shows it. */
export interface ElfSymbol {
  name: string;
  address: number;
  size: number;
  /** 0 local, 1 global, 2 weak. */
  bind: number;
  /** Which table it came from. */
  table: '.symtab' | '.dynsym';
  /** An older version kept for old binaries (`fmemopen@GLIBC_2.2.5` beside `fmemopen@@GLIBC_2.22`). */
  oldVersion?: boolean;
}

export interface ElfSegment {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface ElfSection {
  name: string;
  type: number;
  /** SHF_* bits: SHF_EXECINSTR marks code. */
  flags: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** Any symbol of `.symtab`, as a relocatable object (a .bpf.o) lists them. */
export interface ElfObjectSymbol {
  name: string;
  /** Offset in its section, for a relocatable object. */
  value: number;
  size: number;
  /** STT_*: 1 object, 2 function, 3 section. */
  type: number;
  bind: number;
  /** Index of the section it is defined in (0: undefined). */
  section: number;
}

/** The ELF machine numbers of the architectures Node runs on, to reject foreign binaries. */
const MACHINES: Record<string, number> = { x64: 62, arm64: 183, ia32: 3, arm: 40, s390x: 22, ppc64: 21, riscv64: 243 };

export class ElfFile {
  readonly type: number;
  readonly machine: number;
  readonly segments: ElfSegment[];
  readonly sections: ElfSection[];
  #functions?: ElfSymbol[];
  #byName?: Map<string, ElfSymbol>;

  private constructor(
    readonly path: string,
    /** An open file, or the whole file in memory. */
    private readonly source: number | Buffer,
    private readonly fileSize: number,
  ) {
    const h = this.read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new OptionError(`${path} is not an ELF file`);
    if (h[4] !== 2 || h[5] !== 1) throw new OptionError(`${path} is not a 64-bit little-endian ELF file`);
    this.type = h.readUInt16LE(16);
    this.machine = h.readUInt16LE(18);
    const phoff = num(h, 32);
    const shoff = num(h, 40);
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const shentsize = h.readUInt16LE(58);
    let shnum = h.readUInt16LE(60);
    let shstrndx = h.readUInt16LE(62);

    this.segments = [];
    if (phoff && phnum) {
      const ph = this.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const at = i * phentsize;
        if (ph.readUInt32LE(at) !== PT_LOAD) continue;
        this.segments.push({
          flags: ph.readUInt32LE(at + 4),
          offset: num(ph, at + 8),
          vaddr: num(ph, at + 16),
          filesz: num(ph, at + 32),
          memsz: num(ph, at + 40),
        });
      }
    }

    this.sections = [];
    if (shoff) {
      // More than 0xff00 sections: the real counts live in section 0.
      const first = this.read(shoff, shentsize);
      if (shnum === 0) shnum = num(first, 32);
      if (shstrndx === 0xffff) shstrndx = first.readUInt32LE(40);
      const sh = this.read(shoff, shnum * shentsize);
      const raw = Array.from({ length: shnum }, (_, i) => {
        const at = i * shentsize;
        return {
          nameAt: sh.readUInt32LE(at),
          type: sh.readUInt32LE(at + 4),
          flags: num(sh, at + 8),
          offset: num(sh, at + 24),
          size: num(sh, at + 32),
          link: sh.readUInt32LE(at + 40),
          entsize: num(sh, at + 56),
        };
      });
      const names = raw[shstrndx] ? this.read(raw[shstrndx].offset, raw[shstrndx].size) : Buffer.alloc(0);
      for (const s of raw) this.sections.push({ ...s, name: cstring(names, s.nameAt) });
    }
  }

  /** Opens `path`. A missing file is a NotFoundError; a file that is not ELF64 an OptionError. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`no file ${path}`, [], { errno: code });
      throw new SystemError(`cannot open ${path}: ${(e as Error).message}`, { errno: code });
    }
    try {
      const size = fs.fstatSync(fd).size;
      const elf = new ElfFile(path, fd, size);
      const want = MACHINES[process.arch];
      if (want !== undefined && elf.machine !== want) throw new OptionError(`${path} is an ELF file for another machine (e_machine ${elf.machine})`);
      elf.functions(); // read the symbols now, while the file is open
      return elf;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * An ELF file held in memory (a compiled BPF object); `name` is for
   * messages. Any machine: the caller checks `machine`.
   */
  static fromBuffer(buf: Buffer, name: string): ElfFile {
    if (buf.length < 64) throw new OptionError(`${name} is not an ELF file (${buf.length} bytes)`);
    return new ElfFile(name, buf, buf.length);
  }

  /** Whether `path` is an ELF64 file for this machine (checks only the header). */
  static isNative(path: string): boolean {
    try {
      const fd = fs.openSync(path, 'r');
      try {
        const h = Buffer.alloc(20);
        if (fs.readSync(fd, h, 0, 20, 0) < 20) return false;
        const want = MACHINES[process.arch];
        return h.readUInt32BE(0) === 0x7f454c46 && h[4] === 2 && h[5] === 1 && (want === undefined || h.readUInt16LE(18) === want);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return false;
    }
  }

  private read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.fileSize) {
      throw new OptionError(`${this.path}: a header points outside the file (offset ${offset}, ${length} bytes)`);
    }
    if (Buffer.isBuffer(this.source)) return this.source.subarray(offset, offset + length);
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.source, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }

  /** The bytes of section `name` (zeros for one that takes no room in the file, like .bss); undefined when there is none. */
  sectionData(name: string): Buffer | undefined {
    const s = this.sections.find((x) => x.name === name);
    if (!s) return undefined;
    return s.type === SHT_NOBITS ? Buffer.alloc(s.size) : this.read(s.offset, s.size);
  }

  /** Every named symbol of `.symtab`, in table order (for relocatable objects, where values are section offsets). */
  objectSymbols(): ElfObjectSymbol[] {
    const out: ElfObjectSymbol[] = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB || !s.entsize) continue;
      const strtab = this.sections[s.link];
      if (!strtab) continue;
      const syms = this.read(s.offset, s.size);
      const strs = this.read(strtab.offset, strtab.size);
      for (let at = 0; at + 24 <= syms.length; at += s.entsize) {
        const name = cstring(strs, syms.readUInt32LE(at));
        if (!name) continue;
        const info = syms[at + 4];
        out.push({ name, value: num(syms, at + 8), size: num(syms, at + 16), type: info & 0xf, bind: info >> 4, section: syms.readUInt16LE(at + 6) });
      }
    }
    return out;
  }

  /** Defined function symbols of `.symtab` and `.dynsym`, sorted by address. */
  functions(): ElfSymbol[] {
    if (this.#functions) return this.#functions;
    const out: ElfSymbol[] = [];
    const seen = new Set<string>();
    // .symtab first: it has the local functions too; .dynsym adds what a stripped file still exports.
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      for (const s of this.sections) {
        if (s.type !== type || !s.entsize) continue;
        const strtab = this.sections[s.link];
        if (!strtab) continue;
        const syms = this.read(s.offset, s.size);
        const strs = this.read(strtab.offset, strtab.size);
        const vs = type === SHT_DYNSYM ? this.sections.find((v) => v.type === SHT_GNU_VERSYM && v.link === this.sections.indexOf(s)) : undefined;
        const versyms = vs ? this.read(vs.offset, vs.size) : undefined;
        for (let at = 0, i = 0; at + 24 <= syms.length; at += s.entsize, i++) {
          const info = syms[at + 4];
          const kind = info & 0xf;
          if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
          if (syms.readUInt16LE(at + 6) === SHN_UNDEF) continue;
          const name = cstring(strs, syms.readUInt32LE(at));
          const address = num(syms, at + 8);
          if (!name || !address) continue;
          const key = `${name}@${address}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const sym: ElfSymbol = { name, address, size: num(syms, at + 16), bind: info >> 4, table: type === SHT_SYMTAB ? '.symtab' : '.dynsym' };
          if (versyms && 2 * i + 2 <= versyms.length && versyms.readUInt16LE(2 * i) & VERSYM_HIDDEN) sym.oldVersion = true;
          out.push(sym);
        }
      }
    }
    out.sort((a, b) => a.address - b.address || b.size - a.size);
    return (this.#functions = out);
  }

  /**
   * A function by name: the default version before an old one, a global
   * definition before a local one of the same name.
   */
  symbol(name: string): ElfSymbol | undefined {
    if (!this.#byName) {
      this.#byName = new Map();
      const rank = (s: ElfSymbol) => (s.oldVersion ? 0 : 2) + (s.bind !== 0 ? 1 : 0);
      for (const s of this.functions()) {
        const had = this.#byName.get(s.name);
        if (!had || rank(s) > rank(had)) this.#byName.set(s.name, s);
      }
    }
    return this.#byName.get(name);
  }

  /** Names of every function symbol (for suggestions). */
  names(): string[] {
    return [...new Set(this.functions().map((s) => s.name))];
  }

  /** The function containing `address` (a virtual address), and how far into it. */
  containing(address: number): { symbol: ElfSymbol; offset: number } | undefined {
    const fns = this.functions();
    let lo = 0;
    let hi = fns.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fns[mid].address <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    // Aliases share an address: prefer a sized, global one among them.
    for (let i = found; i >= 0 && fns[i].address === fns[found]?.address; i--) {
      if (fns[i].size && fns[i].bind !== 0 && address < fns[i].address + fns[i].size) return { symbol: fns[i], offset: address - fns[i].address };
    }
    for (let i = found; i >= 0 && i > found - 64; i--) {
      const s = fns[i];
      // A size of 0 (hand-written assembly) covers up to the next symbol.
      const end = s.size ? s.address + s.size : (fns[found + 1]?.address ?? Infinity);
      if (address < end) return { symbol: s, offset: address - s.address };
    }
    return undefined;
  }

  /** The file offset of a virtual address, through the PT_LOAD segment holding it (what uprobes attach to). */
  fileOffset(vaddr: number): number {
    for (const seg of this.segments) {
      if (vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz) return vaddr - seg.vaddr + seg.offset;
    }
    throw new OptionError(`${this.path}: address 0x${vaddr.toString(16)} is not in any loaded segment`);
  }

  /** The virtual address of a file offset (a mapping's offset in /proc/<pid>/maps plus the distance into it). */
  vaddr(fileOffset: number): number | undefined {
    for (const seg of this.segments) {
      if (fileOffset >= seg.offset && fileOffset < seg.offset + seg.filesz) return fileOffset - seg.offset + seg.vaddr;
    }
    return undefined;
  }
}

/** An ELF u64 as a number: user-space addresses and file offsets fit in 53 bits. */
function num(buf: Buffer, at: number): number {
  return Number(buf.readBigUInt64LE(at));
}

function cstring(buf: Buffer, at: number): string {
  if (at >= buf.length) return '';
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end < 0 ? buf.length : end);
}
