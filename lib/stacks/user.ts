/**
 * User stack frames to names. A frame arrives as an address, as a file
 * (build id) and an offset in it, or both, and is named by the first of:
 *
 *   1. its file by build id (lib/stacks/buildids.ts): works after the
 *      process is gone, in every process of the same binary (PIE or not);
 *   2. its address in the process's mappings (live, or remembered while it
 *      lived: lib/sys/procfs.ts) and the mapped file's symbols;
 *   3. its address in a text segment of a file another frame of the same
 *      stack was found in, placed by that frame's address (the kernel names
 *      a caller recovered at entry by address only);
 *   4. its address in the process's perf map: JIT code such as JavaScript.
 */
import type { FileFrame } from '../core/decode';
import { ElfFile } from '../sys/elf';
import { Mapping, mapsOf, processView } from '../sys/procfs';
import { elfAt, elfWithBuildId, shownName } from './buildids';
import { demangle } from './demangle';
import { Frame, FrameDetails } from './frame';
import { perfMapOf } from './perfmap';

/** A user frame as recorded: its address, its file by build id, or both. */
export interface RawUserFrame {
  address?: bigint;
  file?: FileFrame;
}

export interface UserStackOptions {
  /** Index of a frame recovered at a function's entry (frame 1), if any. */
  callerAt?: number;
  /** Demangle C++ names (default true). */
  demangle?: boolean;
}

/** A frame's file, where the frame is in it (a virtual address), and how the file was reached. */
interface Place {
  elf: ElfFile;
  vaddr: number;
  module: string;
}

function findMapping(maps: readonly Mapping[], a: number): Mapping | undefined {
  for (const m of maps) if (a >= m.start && a < m.end) return m;
  return undefined;
}

/** Rule 1: the file by build id. */
function byBuildId(file: FileFrame): Place | undefined {
  const elf = elfWithBuildId(file.buildId);
  const vaddr = elf?.vaddr(file.offset);
  return elf && vaddr !== undefined ? { elf, vaddr, module: shownName(elf.path) } : undefined;
}

/** Rule 2: the process's mapping holding the address. */
function byMapping(pid: number, a: number, maps: readonly Mapping[] | undefined): Place | undefined {
  const map = maps && findMapping(maps, a);
  if (!map || !map.path.startsWith('/')) return undefined;
  const file = map.path.replace(/ \(deleted\)$/, '');
  const { root } = processView(pid);
  const elf = elfAt(root + file) ?? (root ? null : elfAt(`/proc/${pid}/map_files/${map.start.toString(16)}-${map.end.toString(16)}`));
  const vaddr = elf?.vaddr(a - map.start + map.offset);
  return elf && vaddr !== undefined ? { elf, vaddr, module: map.path } : undefined;
}

/** Rule 3: in a text segment of a file another frame was placed in, by that frame's address. */
function byNeighbour(a: number, anchors: ReadonlyArray<{ address: number; place: Place }>): Place | undefined {
  for (const { address, place } of anchors) {
    const seg = place.elf.textSegment(place.vaddr);
    const vaddr = a - address + place.vaddr;
    if (seg && vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.memsz) return { ...place, vaddr };
  }
  return undefined;
}

const demangled = new Map<string, string>();
const MAX_DEMANGLED = 1 << 16;

/** The name to show and, when it differs, the name in the file. */
function displayName(name: string, wanted: boolean): { symbol: string; mangled?: string } {
  if (!wanted || !name.startsWith('_Z')) return { symbol: name };
  let out = demangled.get(name);
  if (out === undefined) {
    out = demangle(name) ?? name;
    if (demangled.size >= MAX_DEMANGLED) demangled.clear();
    demangled.set(name, out);
  }
  return out === name ? { symbol: name } : { symbol: out, mangled: name };
}

/**
 * Frames of process `pid` (innermost first) to `function+offset (file)`.
 * Every frame after the first is a return address: the call before it is
 * what is looked up.
 */
export function userStackFrames(pid: number, raw: readonly RawUserFrame[], opts: UserStackOptions = {}): Frame[] {
  let processMaps: readonly Mapping[] | undefined | null = null; // read on first need
  const mapsNow = () => (processMaps === null ? (processMaps = mapsOf(pid)) : processMaps);
  const wantDemangle = opts.demangle !== false;
  const places: Array<Place | undefined> = raw.map((f) => (f.file ? byBuildId(f.file) : undefined));
  // Rule 2 for frames with an address that no build id placed.
  raw.forEach((f, i) => {
    if (!places[i] && f.address !== undefined) places[i] = byMapping(pid, Number(f.address), mapsNow());
  });
  const anchors = raw.flatMap((f, i) => (f.address !== undefined && places[i] ? [{ address: Number(f.address), place: places[i] as Place }] : []));
  return raw.map((f, i) => {
    const details: FrameDetails = i === opts.callerAt ? { callerAtEntry: true } : {};
    if (f.file) details.fileOffset = f.file.offset;
    const address = f.address ?? 0n;
    const a = Number(address);
    // A return address points after its call: look up the call.
    const back = i > 0 ? 1 : 0;
    let place = places[i];
    if (!place && f.address !== undefined) place = byNeighbour(a, anchors);
    if (place) {
      const hit = place.elf.containing(place.vaddr - back);
      if (hit) {
        const { symbol, mangled } = displayName(hit.symbol.name, wantDemangle);
        if (mangled) details.mangled = mangled;
        return new Frame(address, symbol, place.vaddr - hit.symbol.address, place.module, false, details);
      }
      return new Frame(address, undefined, undefined, place.module, false, details);
    }
    if (f.address !== undefined) {
      const jit = perfMapOf(pid)?.lookup(a - back);
      if (jit) return new Frame(address, jit.name, jit.offset + back, perfMapOf(pid)?.name, false, { ...details, jit: true });
      const map = mapsNow() && findMapping(mapsNow() as Mapping[], a);
      if (map) return new Frame(address, undefined, undefined, map.path, false, details);
    }
    if (f.file) return new Frame(address, undefined, undefined, undefined, false, { ...details, buildId: f.file.buildId });
    return new Frame(address, undefined, undefined, undefined, false, details);
  });
}

/** User stack addresses of process `pid` to `function+offset (file)`, through its mappings. */
export function userFrames(pid: number, addrs: readonly bigint[], opts: UserStackOptions = {}): Frame[] {
  return userStackFrames(pid, addrs.map((address) => ({ address })), opts);
}
