/**
 * Names of JIT code from the perf map a JIT writes: `/tmp/perf-<pid>.map`,
 * one `START SIZE name` line (hex numbers) per piece of code, appended as
 * code is compiled (node --perf-basic-prof; V8 names JavaScript functions
 * `JS:*name file:line:column`). The file is read from where the last read
 * stopped whenever an address falls outside what was read. In a container
 * the file is under the process's root and carries its namespaced pid.
 */
import * as fs from 'fs';
import { processView } from '../sys/procfs';

interface Entry {
  start: number;
  end: number;
  name: string;
  /** Line order: where code was replaced at the same place, the later line wins. */
  seq: number;
}

/** Bytes read per step; a line is never longer than this. */
const CHUNK = 1 << 20;

/** One process's perf map, read incrementally. */
export class PerfMap {
  private entries: Entry[] = [];
  private sorted = true;
  private readAt = 0;
  private partial = '';
  private fd: number | undefined;

  constructor(
    /** Where it is read from (a descriptor held open, or a path through the process's root). */
    private readonly source: string,
    /** The file as the process names it: `/tmp/perf-<pid>.map`. */
    readonly name: string,
  ) {}

  /** The code containing `address`, reading what the JIT appended since the last look if needed. */
  lookup(address: number): { name: string; offset: number } | undefined {
    const hit = this.find(address);
    if (hit || !this.readMore()) return hit && { name: hit.name, offset: address - hit.start };
    const again = this.find(address);
    return again && { name: again.name, offset: address - again.start };
  }

  private find(address: number): Entry | undefined {
    if (!this.sorted) {
      this.entries.sort((a, b) => a.start - b.start || a.seq - b.seq);
      this.sorted = true;
    }
    const e = this.entries;
    let lo = 0;
    let hi = e.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (e[mid].start <= address) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // The latest entry covering the address among those starting before it (code is small: a few steps back).
    let best: Entry | undefined;
    for (let i = at; i >= 0 && i > at - 64; i--) {
      if (address < e[i].end && (!best || e[i].seq > best.seq)) best = e[i];
    }
    return best;
  }

  /** Reads what was appended; returns whether anything new came. */
  private readMore(): boolean {
    try {
      this.fd ??= fs.openSync(this.source, 'r');
    } catch {
      return false;
    }
    const buf = Buffer.alloc(CHUNK);
    let got = false;
    for (;;) {
      const n = fs.readSync(this.fd, buf, 0, CHUNK, this.readAt);
      if (n <= 0) break;
      this.readAt += n;
      got = true;
      const text = this.partial + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.add(line);
    }
    return got;
  }

  private add(line: string): void {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
    if (!m) return;
    const start = parseInt(m[1], 16);
    const size = parseInt(m[2], 16);
    if (!size) return;
    this.entries.push({ start, end: start + size, name: m[3], seq: this.entries.length });
    this.sorted = false;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Perf maps kept open at once. */
const MAX_MAPS = 64;
const maps = new Map<number, PerfMap | null>();

/** The perf map of `pid`: `/tmp/perf-<pid>.map` as the process itself names it; null when it wrote none. */
export function perfMapOf(pid: number): PerfMap | null {
  let map = maps.get(pid);
  if (map !== undefined) return map;
  const { perfMap, nspid } = processView(pid);
  map = fs.existsSync(perfMap) ? new PerfMap(perfMap, `/tmp/perf-${nspid}.map`) : null;
  maps.set(pid, map);
  if (maps.size > MAX_MAPS) {
    const oldest = maps.keys().next().value as number;
    maps.get(oldest)?.close();
    maps.delete(oldest);
  }
  return map;
}
