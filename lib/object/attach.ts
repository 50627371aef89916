/**
 * Attaching a program of a loaded object: where its section says
 * (`SEC("tracepoint/sched/sched_switch")`, through libbpf), or where the
 * caller says, with arguments. Either way the same checks run first: the
 * kernel has kprobes for kprobe programs, tracefs is mounted for
 * tracepoints, a user-space target and symbol exist.
 */
import { NotFoundError, OptionError } from '../errors';
import { TRACEPOINT } from '../attach/options';
import { resolveLocation } from '../attach/uprobe';
import { requireKprobes } from '../sys/features';
import { resolveBinary } from '../sys/libraries';
import type { NativeBpfObject } from '../sys/native-object';
import { closest } from '../sys/names';
import { listTracepointsOrNone, tracefs } from '../sys/tracefs';
import type { ObjectProgram } from './parse';
import { SectionKind, needsKprobes } from './sections';

/** A BPF cookie, read in the program with bpf_get_attach_cookie(). */
type Cookie = { cookie?: bigint | number };

/**
 * Where to attach a program, when its section does not say (or to override
 * it). A tracepoint is `category:name`. A uprobe's target is a path, a
 * library (`libc`) or a program on PATH, its `symbol` a name, `name+0x10` or
 * `0xADDRESS`, and `pid` limits it to one process.
 */
export type AttachTarget =
  | ({ kprobe: string; offset?: number } & Cookie)
  | ({ kretprobe: string } & Cookie)
  | ({ ksyscall: string } & Cookie)
  | ({ kretsyscall: string } & Cookie)
  | ({ tracepoint: string } & Cookie)
  | { rawTracepoint: string }
  | ({ uprobe: string; symbol: string; pid?: number } & Cookie)
  | ({ uretprobe: string; symbol: string; pid?: number } & Cookie);

const KINDS = ['kprobe', 'kretprobe', 'ksyscall', 'kretsyscall', 'tracepoint', 'rawTracepoint', 'uprobe', 'uretprobe'] as const;

/** An attachment checked and ready to make: the target in words (`tracepoint sched:sched_switch`), what to say if the kernel finds no such target, and the call. */
export interface AttachPlan {
  target: string;
  notFound: () => NotFoundError;
  attach: () => number;
}

/** How to write a target for each kind of section, for the error that asks for one. */
const EXAMPLES: Partial<Record<SectionKind, string>> = {
  kprobe: "{ kprobe: 'vfs_read' }",
  kretprobe: "{ kretprobe: 'vfs_read' }",
  ksyscall: "{ ksyscall: 'openat' }",
  kretsyscall: "{ kretsyscall: 'openat' }",
  uprobe: "{ uprobe: 'libc', symbol: 'malloc' }",
  uretprobe: "{ uretprobe: 'libc', symbol: 'malloc' }",
  tracepoint: "{ tracepoint: 'sched:sched_switch' }",
  raw_tracepoint: "{ rawTracepoint: 'sched_switch' }",
};

/** Attaches `program` where its section says. */
export function attachBySection(n: NativeBpfObject, program: ObjectProgram): AttachPlan {
  const { kind, target, auto } = program.attach;
  if (!auto) {
    const how = EXAMPLES[kind];
    throw new OptionError(
      how
        ? `program ${program.name} (SEC("${program.section}")) names no target: attach it with attach('${program.name}', ${how})`
        : `program ${program.name} (SEC("${program.section}")) is not a kind this library attaches; ` +
            'it attaches kprobe, kretprobe, ksyscall, uprobe, tracepoint, raw_tracepoint and BTF-based (fentry, tp_btf, lsm, ...) programs',
    );
  }
  if (needsKprobes(kind)) requireKprobes(`program ${program.name} (${kind} ${target})`);
  if (kind === 'tracepoint') tracefs();
  return {
    attach: () => n.attach(program.name),
    target: `${kind} ${target}`,
    notFound: () => notFound(program, kind === 'tracepoint' ? 'tracepoint' : kind === 'uprobe' || kind === 'uretprobe' ? 'such file or function' : 'kernel function', target ?? ''),
  };
}

/** Attaches `program` at an explicit `target`. */
export function attachAt(n: NativeBpfObject, program: ObjectProgram, target: AttachTarget): AttachPlan {
  if (typeof target !== 'object' || target === null) throw new OptionError('an attach target is an object such as { kprobe: "vfs_read" }');
  const given = KINDS.filter((k) => k in target);
  if (given.length !== 1) throw new OptionError(`an attach target names exactly one of ${KINDS.join(', ')}; got ${given.length ? given.join(', ') : 'none'}`);
  const kind = given[0];
  const t = target as Record<string, unknown>;
  const name = t[kind];
  if (typeof name !== 'string' || !name) throw new OptionError(`${kind} must be a non-empty string`);
  const cookie = toCookie(t.cookie);
  const what = `${kind} ${name}`;
  const missing = (thing: string) => () => notFound(program, thing, name);
  switch (kind) {
    case 'kprobe':
    case 'kretprobe': {
      requireKprobes(`program ${program.name} (${what})`);
      const offset = t.offset ?? 0;
      if (!Number.isInteger(offset) || (offset as number) < 0) throw new OptionError(`offset must be a non-negative integer, got ${String(offset)}`);
      return { attach: () => n.attachKprobe(program.name, name, kind === 'kretprobe', offset as number, cookie), target: what, notFound: missing('kernel function') };
    }
    case 'ksyscall':
    case 'kretsyscall':
      requireKprobes(`program ${program.name} (${what})`);
      return { attach: () => n.attachKsyscall(program.name, name, kind === 'kretsyscall', cookie), target: what, notFound: missing('syscall') };
    case 'tracepoint': {
      if (!TRACEPOINT.test(name)) throw new OptionError(`a tracepoint is category:name (sched:sched_switch), got ${JSON.stringify(name)}`);
      tracefs();
      const [category, event] = name.split(':');
      return { attach: () => n.attachTracepoint(program.name, category, event, cookie), target: what, notFound: missing('tracepoint') };
    }
    case 'rawTracepoint':
      return { attach: () => n.attachRawTracepoint(program.name, name), target: `raw_tracepoint ${name}`, notFound: missing('raw tracepoint') };
    case 'uprobe':
    case 'uretprobe': {
      const pid = t.pid;
      if (pid !== undefined && (!Number.isInteger(pid) || (pid as number) <= 0)) throw new OptionError(`pid must be a positive integer, got ${String(pid)}`);
      if (typeof t.symbol !== 'string') throw new OptionError(`${kind} needs a symbol: { ${kind}: '${name}', symbol: 'main' }`);
      const binary = resolveBinary(name, pid as number | undefined);
      const where = resolveLocation(binary, t.symbol);
      return {
        attach: () => n.attachUprobe(program.name, binary, where.fileOffset, kind === 'uretprobe', (pid as number | undefined) ?? -1, cookie),
        target: `${kind} ${binary}:${t.symbol}`,
        notFound: missing('file'),
      };
    }
  }
}

/** No such target: a tracepoint's error names the close ones that exist. */
function notFound(program: ObjectProgram, thing: string, name: string): NotFoundError {
  const near = thing === 'tracepoint' ? closest(name, listTracepointsOrNone().map((t) => `${t.category}:${t.name}`)) : [];
  return new NotFoundError(`attach ${program.name}: no ${thing} ${name}`, near);
}

function toCookie(v: unknown): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new OptionError(`cookie must be a u64 (a non-negative integer or bigint), got ${String(v)}`);
}

