/** Kernel stack addresses to `function+offset [module]`, through /proc/kallsyms. */
import { eachTextSymbol, readKallsyms } from '../sys/kallsyms';
import { Frame } from './frame';

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
export function floorIndex(sorted: ArrayLike<number>, x: number): number {
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

/**
 * Kernel stack addresses to `function+offset [module]`. `callerAt` is the
 * index of a frame recovered at a function's entry, if any.
 */
export function kernelFrames(addrs: readonly bigint[], callerAt = -1): Frame[] {
  const k = loadKallsyms();
  return addrs.map((addr, i) => {
    const details = i === callerAt ? { callerAtEntry: true } : {};
    if (addr < KBASE) return new Frame(addr, undefined, undefined, undefined, true, details);
    const a = Number(addr - KBASE);
    // Return addresses (every frame after the first) may point just past their function.
    const idx = floorIndex(k.addrs, i > 0 ? a - 1 : a);
    if (idx < 0 || a - k.addrs[idx] > MAX_KERNEL_FN) return new Frame(addr, undefined, undefined, undefined, true, details);
    return new Frame(addr, k.names[idx], a - k.addrs[idx], k.modules[idx], true, details);
  });
}
