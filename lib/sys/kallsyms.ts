/**
 * The kernel's function names: /proc/kallsyms (the running kernel and its
 * loaded modules), less what kprobes refuse (the kprobe blacklist) and, where
 * tracefs lets us read it, limited to the functions ftrace can hook (what
 * kprobe_multi attaches through). Also: compiler clones (`foo.isra.0`),
 * "did you mean" names, and which unloaded module holds a function.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ElfFile } from './elf';
import { closest } from './names';
import { globMatcher } from './glob';

/** A kernel function a kprobe can be attached to. */
export interface KernelFunction {
  name: string;
  /** The module that holds it (`fuse`); none for the kernel image. */
  module?: string;
}

interface Table {
  /** name -> module ('' for the kernel image); first occurrence wins, as kprobes by name do. */
  byName: Map<string, string>;
  /** /proc/modules when read: a module loaded or unloaded since makes the table stale. */
  modules: string;
}

let table: Table | undefined;

function readModules(): string {
  try {
    return fs.readFileSync('/proc/modules', 'latin1').replace(/ \d+ \S+ \S+ \S+ \S+$/gm, '');
  } catch {
    return '';
  }
}

/** /proc/kallsyms, or '' where it cannot be read (a locked-down or non-Linux system). */
export function readKallsyms(): string {
  try {
    return fs.readFileSync('/proc/kallsyms', 'latin1');
  } catch {
    return '';
  }
}

/**
 * Calls `each` for every text symbol in /proc/kallsyms text with its name, its
 * module ('' for the kernel image) and where its line starts (the address is
 * the line's first characters). Scanned by hand: it has 100k+ lines and a
 * split/regex per line would take most of the listing's time.
 */
export function eachTextSymbol(text: string, each: (name: string, module: string, lineStart: number) => void): void {
  for (let at = 0; at < text.length; ) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const sp = text.indexOf(' ', at);
    if (sp > 0 && sp + 3 < nl) {
      const t = text.charCodeAt(sp + 1) | 0x20;
      if (t === 0x74 /* t */ || t === 0x77 /* w */) {
        // Scan this line only: indexOf('\t') would run on to the module symbols at the end.
        let end = sp + 3;
        while (end < nl && text.charCodeAt(end) !== 9) end++;
        const mod = end < nl ? text.slice(end + 2, text.charCodeAt(nl - 1) === 0x5d ? nl - 1 : nl) : '';
        each(text.slice(sp + 3, end), mod, at);
      }
    }
    at = nl + 1;
  }
}

/** The functions of /proc/kallsyms text: name -> module ('' for the kernel image), first occurrence first. */
export function parseKallsyms(text: string): Map<string, string> {
  const byName = new Map<string, string>();
  eachTextSymbol(text, (name, mod) => {
    // Padding, CFI stubs and static-call trampolines are not functions; [bpf] and [__builtin__*] are not modules.
    if (name.startsWith('__pfx_') || name.startsWith('__cfi_') || name.startsWith('__SCT__') || byName.has(name)) return;
    if (mod !== 'bpf' && !mod.startsWith('__builtin')) byName.set(name, mod);
  });
  return byName;
}

function load(): Table {
  const modules = readModules();
  if (table && table.modules === modules) return table;
  // No kallsyms: nothing to list or suggest.
  return (table = { byName: parseKallsyms(readKallsyms()), modules });
}

/** Names listed in a file of one name per line, after an optional address column; undefined when unreadable. */
function readNames(file: string, column: (line: string) => string | undefined): Set<string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const n = column(line);
    if (n) out.add(n);
  }
  return out;
}

/** Functions kprobes refuse (/sys/kernel/debug/kprobes/blacklist: `0xstart-0xend\tname [mod]`). */
export function kprobeBlacklist(): Set<string> | undefined {
  return readNames('/sys/kernel/debug/kprobes/blacklist', (l) => l.split('\t')[1]?.split(' ')[0]);
}

/** Functions ftrace can hook (tracefs available_filter_functions: `name [mod]`). */
export function ftraceFunctions(): Set<string> | undefined {
  for (const dir of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    const s = readNames(path.join(dir, 'available_filter_functions'), (l) => l.split(' ')[0]);
    if (s) return s;
  }
  return undefined;
}

/** The module holding a loaded function, '' for the kernel image, undefined when kallsyms lacks it. */
export function symbolModule(name: string): string | undefined {
  return load().byName.get(name);
}

/** Whether kallsyms could be read at all (checks that rely on it are skipped when not). */
export function kallsymsReadable(): boolean {
  return load().byName.size > 0;
}

/**
 * Kernel functions that can be probed, matching a glob pattern (`fuse_*`)
 * or all of them, sorted by name.
 */
export function probeableFunctions(pattern?: string): KernelFunction[] {
  const match = pattern === undefined ? () => true : globMatcher(pattern);
  const black = kprobeBlacklist();
  const traceable = ftraceFunctions();
  const { byName } = load();
  const names: string[] = [];
  for (const name of byName.keys()) {
    if (match(name) && !black?.has(name) && (!traceable || traceable.has(name))) names.push(name);
  }
  // The default sort compares strings natively, several times faster than a comparator.
  return names.sort().map((name) => {
    const mod = byName.get(name);
    return mod ? { name, module: mod } : { name };
  });
}

/** Suffixes the compiler gives the copies it specialises (`.cold` parts are split off, not entry points). */
const CLONE = /\.(isra|constprop|part|cold|llvm|lto_priv)\.\d+.*$/;

/** The source function of a compiler clone, whose BTF it keeps (`vfs_x.isra.0` -> `vfs_x`). */
export function cloneBase(name: string): string {
  return name.replace(CLONE, '');
}

/** The compiler clones of `name` in kallsyms (`name.isra.0`, `name.constprop.0`, `name.part.0`). */
export function clonesOf(name: string): string[] {
  const out: string[] = [];
  for (const n of load().byName.keys()) {
    if (n.length > name.length && n.startsWith(name) && n[name.length] === '.' && cloneBase(n) === name && !n.includes('.cold')) {
      out.push(n);
    }
  }
  return out.sort();
}

/** Close kernel function names for one that was not found: its clones first. */
export function kernelSymbolSuggestions(name: string): string[] {
  const names = load().byName.keys();
  return [...new Set([...clonesOf(name), ...closest(name, names)])];
}

/** Where the running kernel's modules are installed. */
export function modulesDir(release = os.release()): string {
  return path.join('/lib/modules', release);
}

/** A module (not loaded) that holds a function, and how sure we are. */
export interface ModuleHint {
  module: string;
  /** Found in the module's symbol table (true), or only guessed from the name's prefix (false). */
  certain: boolean;
}

/**
 * Which installed module holds `fn`. Reading every module's symbols would
 * take seconds, so: modules.symbols names the module of an exported
 * function; otherwise modules whose name prefixes the function's
 * (`fuse_open_common` -> fuse) are candidates, confirmed by reading that
 * one module's symbol table when it is not compressed.
 */
export function moduleHolding(fn: string, dir = modulesDir()): ModuleHint | undefined {
  const exported = readNames(path.join(dir, 'modules.symbols'), (l) => (l.startsWith(`alias symbol:${fn} `) ? l.split(' ')[2] : undefined));
  const first = exported && [...exported][0];
  if (first) return { module: first, certain: true };
  let dep: string;
  try {
    dep = fs.readFileSync(path.join(dir, 'modules.dep'), 'latin1');
  } catch {
    return undefined;
  }
  const candidates: Array<{ module: string; file: string }> = [];
  for (const line of dep.split('\n')) {
    const file = line.slice(0, line.indexOf(':'));
    const module = path.basename(file).replace(/\.ko(\..*)?$/, '').replace(/-/g, '_');
    if (module && fn.startsWith(`${module}_`)) candidates.push({ module, file: path.join(dir, file) });
  }
  // The longest prefix is the most specific: nf_conntrack_ftp before nf_conntrack.
  candidates.sort((a, b) => b.module.length - a.module.length);
  let guess: ModuleHint | undefined;
  for (const c of candidates.slice(0, 4)) {
    if (!c.file.endsWith('.ko')) {
      guess ??= { module: c.module, certain: false };
      continue;
    }
    try {
      if (ElfFile.open(c.file).symbol(fn)) return { module: c.module, certain: true };
    } catch {
      guess ??= { module: c.module, certain: false };
    }
  }
  return guess;
}

/** Glob matching over the loaded text symbols without the probe-ability filters (for tests and hints). */
export function kernelSymbols(pattern: string): string[] {
  const match = globMatcher(pattern);
  return [...load().byName.keys()].filter(match);
}
