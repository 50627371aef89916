/**
 * Stack symbolization: kernel addresses through /proc/kallsyms, user addresses
 * through the process's mappings (/proc/<pid>/maps, snapshotted by the
 * decoder while the process lives: lib/sys/procfs.ts) and the ELF symbols of
 * the mapped files.
 */
import type { TraceEvent } from '../core/event';
import { ElfFile } from '../sys/elf';
import { eachTextSymbol, readKallsyms } from '../sys/kallsyms';
import { Mapping, mapsOf } from '../sys/procfs';

/** One symbolized stack frame. */
export class Frame {
  constructor(
    /** The address from the stack. */
    readonly address: bigint,
    /** The function containing it, when known. */
    readonly symbol?: string,
    /** Bytes from the function's start. */
    readonly offset?: number,
    /** Kernel frames: the module (`fuse`), none for the kernel proper. User frames: the mapped file. */
    readonly module?: string,
    readonly kernel = false,
  ) {}

  /** `do_syscall_64+0x82`, `fuse_open_common+0x12 [fuse]`, `main+0x2c (/usr/bin/app)`, `0x7f12a0 (/lib/x.so)`. */
  toString(): string {
    const where = this.symbol !== undefined ? `${this.symbol}+0x${(this.offset ?? 0).toString(16)}` : `0x${this.address.toString(16)}`;
    if (!this.module) return where;
    return this.kernel ? `${where} [${this.module}]` : `${where} (${this.module})`;
  }
}

// ---- kernel -------------------------------------------------------------

/** Kernel text lies in the top of the address space: offsets from here fit in a double exactly. */
const KBASE = 0xffff000000000000n;
const KBASE_HI = 0xffff0000;

interface Kallsyms {
  /** Sorted addresses, as offsets from KBASE. */
  addrs: Float64Array;
  names: string[];
  modules: Array<string | undefined>;
}

let kallsyms: Kallsyms | undefined;

/** Reads /proc/kallsyms once (on the first kernel frame), text symbols only. */
function loadKallsyms(): Kallsyms {
  if (kallsyms) return kallsyms;
  // Without kallsyms, frames stay addresses.
  const text = readKallsyms();
  const rows: Array<{ a: number; name: string; mod?: string }> = [];
  eachTextSymbol(text, (name, mod, at) => {
    const hi = parseInt(text.slice(at, at + 8), 16);
    if (!(hi >= KBASE_HI)) return; // zeroed addresses (kptr_restrict) cannot be used
    const a = (hi - KBASE_HI) * 0x100000000 + parseInt(text.slice(at + 8, at + 16), 16);
    rows.push({ a, name, mod: mod || undefined });
  });
  rows.sort((x, y) => x.a - y.a);
  kallsyms = { addrs: Float64Array.from(rows, (r) => r.a), names: rows.map((r) => r.name), modules: rows.map((r) => r.mod) };
  return kallsyms;
}

/** Index of the last entry <= x in a sorted array, or -1. */
function floorIndex(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** A kernel function is never this large: a farther symbol is not the containing one. */
const MAX_KERNEL_FN = 1 << 20;

/** Kernel stack addresses to `function+offset [module]`. */
export function kernelFrames(addrs: readonly bigint[]): Frame[] {
  const k = loadKallsyms();
  return addrs.map((addr, i) => {
    if (addr < KBASE) return new Frame(addr, undefined, undefined, undefined, true);
    const a = Number(addr - KBASE);
    // Return addresses (every frame after the first) may point just past their function.
    const idx = floorIndex(k.addrs, i > 0 ? a - 1 : a);
    if (idx < 0 || a - k.addrs[idx] > MAX_KERNEL_FN) return new Frame(addr, undefined, undefined, undefined, true);
    return new Frame(addr, k.names[idx], a - k.addrs[idx], k.modules[idx], true);
  });
}

// ---- user ---------------------------------------------------------------

const MAX_FILES = 256;

const elfs = new Map<string, ElfFile | null>();

function elfFor(pid: number, map: Mapping): ElfFile | null {
  const key = `${map.id}:${map.path}`;
  let elf = elfs.get(key);
  if (elf !== undefined) return elf;
  elf = null;
  if (map.path.startsWith('/')) {
    const file = map.path.replace(/ \(deleted\)$/, '');
    // The path as this process sees it, else through the traced process's root (containers).
    for (const p of [file, `/proc/${pid}/root${file}`, `/proc/${pid}/map_files/${map.start.toString(16)}-${map.end.toString(16)}`]) {
      try {
        elf = ElfFile.open(p);
        break;
      } catch {
        // try the next way to reach it
      }
    }
  }
  elfs.set(key, elf);
  if (elfs.size > MAX_FILES) elfs.delete(elfs.keys().next().value as string);
  return elf;
}

function findMapping(maps: Mapping[], a: number): Mapping | undefined {
  for (const m of maps) if (a >= m.start && a < m.end) return m;
  return undefined;
}

/** User stack addresses of process `pid` to `function+offset (file)`. */
export function userFrames(pid: number, addrs: readonly bigint[]): Frame[] {
  const maps = mapsOf(pid);
  return addrs.map((addr, i) => {
    const a = Number(addr);
    const map = maps && findMapping(maps, a);
    if (!map) return new Frame(addr);
    const fileOffset = a - map.start + map.offset;
    const elf = elfFor(pid, map);
    const vaddr = elf?.vaddr(fileOffset);
    if (!elf || vaddr === undefined) return new Frame(addr, undefined, undefined, map.path);
    // Frames after the first are return addresses: look up the call, not what follows it.
    const hit = elf.containing(i > 0 ? vaddr - 1 : vaddr);
    if (!hit) return new Frame(addr, undefined, undefined, map.path);
    return new Frame(addr, hit.symbol.name, vaddr - hit.symbol.address, map.path);
  });
}

/**
 * The symbolized stacks of an event recorded with the `stack` option:
 * `kernel` innermost frame first, `user` likewise. Absent stacks stay absent.
 */
export function symbolize(ev: TraceEvent): { kernel?: Frame[]; user?: Frame[] } {
  const out: { kernel?: Frame[]; user?: Frame[] } = {};
  if (ev.kernelStack) out.kernel = kernelFrames(ev.kernelStack);
  if (ev.userStack) out.user = userFrames(ev.pid, ev.userStack);
  return out;
}
