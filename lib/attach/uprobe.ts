/**
 * User-space probes: a function (or an address) in an executable or a shared
 * library, found through the file's ELF symbols and attached at its file
 * offset. Arguments are the untyped registers arg0..arg5 (no BTF for user
 * code); `:type` suffixes read them as integers or user strings.
 */
import * as fs from 'fs';
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { checkPrivileges } from '../sys/features';
import { NotFoundError, OptionError } from '../errors';
import { rawContext } from '../fetch';
import { ElfFile, ElfSymbol } from '../sys/elf';
import { resolveBinary } from '../sys/libraries';
import { closest } from '../sys/names';
import { SummaryConfig, compile } from './compile';
import { UprobeOptions, checkOptions } from './options';
import type { UprobeTarget } from './target';

/** Where in a file a probe goes. */
export interface UprobeLocation {
  /** The file attached to (a path in this mount namespace). */
  binary: string;
  /** The function, when the location was given as `symbol` or `symbol+offset`. */
  symbol?: string;
  /** Virtual address, as `nm` and `objdump` show it. */
  address: number;
  /** Offset in the file: what the kernel attaches to. */
  fileOffset: number;
}

/** `symbol`, `symbol+0x10` (or +16), or a raw virtual address `0x1234`. */
export function parseLocation(spec: string): { symbol?: string; offset: number } {
  if (typeof spec !== 'string') throw new OptionError('a uprobe location must be a string');
  const addr = /^0x([0-9a-fA-F]+)$/.exec(spec);
  if (addr) return { offset: parseInt(addr[1], 16) };
  const m = /^([A-Za-z_.$][\w.$@]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(spec);
  if (!m) throw new OptionError(`a uprobe location is symbol, symbol+offset or 0xADDRESS, got ${JSON.stringify(spec)}`);
  return { symbol: m[1], offset: m[2] === undefined ? 0 : Number(m[2]) };
}

/** Resolves `spec` in the ELF file at `binary` to a virtual address and a file offset. */
export function resolveLocation(binary: string, spec: string): UprobeLocation {
  const loc = parseLocation(spec);
  const elf = ElfFile.open(binary);
  if (loc.symbol === undefined) return { binary, address: loc.offset, fileOffset: elf.fileOffset(loc.offset) };
  const sym: ElfSymbol | undefined = elf.symbol(loc.symbol);
  if (!sym) {
    const names = elf.names();
    if (!names.length) throw new NotFoundError(`no function ${loc.symbol} in ${binary}: it has no symbols (stripped?); give an address, 0x...`);
    throw new NotFoundError(`no function ${loc.symbol} in ${binary}`, closest(loc.symbol, names));
  }
  if (sym.size && loc.offset >= sym.size) {
    throw new OptionError(`${spec}: offset ${loc.offset} is past the end of ${sym.name} (${sym.size} bytes)`);
  }
  const address = sym.address + loc.offset;
  return { binary, symbol: sym.name, address, fileOffset: elf.fileOffset(address) };
}

/** A uprobe or uretprobe on a user-space function (or address), in `session`. */
export function attachUprobeTarget(t: UprobeTarget, opts: UprobeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  const kind = t.kind;
  const o = checkOptions(opts);
  checkPrivileges();
  const binary = resolveBinary(t.binary, o.pid);
  const where = resolveLocation(binary, t.location);
  const { plans, config } = compile(rawContext(kind, where.symbol ?? t.location), o, undefined, summary);
  const name = `${kind}:${binary}:${t.location}`;
  const pid = o.pid ?? -1;
  return (session ?? Session.get()).attach({
    name,
    kind,
    strategy: `${kind} ${binary}+0x${where.fileOffset.toString(16)}`,
    parts: [{ name, plans, config }],
    attach: (tracer, [id]) => [tracer.attachUprobe(binary, where.fileOffset, kind === 'uretprobe', pid, id)],
    describe: `attach ${name}`,
    notFound: () => (o.pid !== undefined && !fs.existsSync(`/proc/${o.pid}`) ? new NotFoundError(`no process ${o.pid}`) : new NotFoundError(`no binary ${binary}`)),
  });
}
