/**
 * The trace command's options as yargs hands them over, turned into targets
 * and probe options. yargs gives the word after a string option to that
 * option; where that word was meant as a target, it goes back to the targets.
 */
import { ProbeOptions, Target, parseTarget } from '../attach';
import { OptionError } from '../errors';
import { rememberFile, setDebugDirectories } from '../stacks/buildids';
import { resolveBinary } from '../sys/libraries';

export interface TraceArgs {
  targets: string[];
  ret: boolean;
  syscall: string[];
  tracepoint: string[];
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
  cgroup?: string;
  json: boolean;
  c?: string;
  duration?: number;
  /** `--count` alone is true; `--count by=pid` is the text after it. */
  count?: string | boolean;
  latency: boolean;
  hist?: string;
  interval?: number;
  /** `host:port` or a port: serve the summary at /metrics instead of printing it. */
  serve?: string;
  /** With --serve: the metric's name. */
  metric?: string;
  /** With --serve: most series per metric. */
  maxSeries?: number;
  maxCounts?: number;
  ringSize?: number;
  arg: string[];
  filter?: string;
  stringSize?: number;
  stack?: string | boolean;
  explain: boolean;
  pin?: string;
  /** With --count --stack: folded stacks. */
  folded?: boolean;
  /** C++ names demangled (--no-demangle: false). */
  demangle?: boolean;
  maxStacks?: number;
  debugDir?: string[];
}

export type StackKind = 'kernel' | 'user' | 'both';

const STACK_KINDS: readonly string[] = ['kernel', 'user', 'both'];

/**
 * The value of `--stack`: bare `--stack` means both. A word that is not a
 * stack kind but looks like a probe target (`--stack syscalls:sys_enter_syncfs`)
 * is returned as a target.
 */
export function parseStackOption(value: unknown): { stack?: StackKind; target?: string } {
  if (value === undefined || value === false) return {};
  if (value === true || value === '') return { stack: 'both' };
  if (typeof value !== 'string') throw new OptionError('--stack takes kernel, user or both');
  if (STACK_KINDS.includes(value)) return { stack: value as StackKind };
  if (/[:/]/.test(value)) return { stack: 'both', target: value };
  throw new OptionError(`--stack takes kernel, user or both, got "${value}"`);
}

/** What --count counts by without an expression. */
const COUNT_KEYS = ['comm', 'pid', 'probe', 'cgroup', 'container'];

/**
 * `--count` (by comm), `--count by=pid`, `--count 'by=flags'`. A word after
 * --count that is not a `by=` (nor a bare key of COUNT_KEYS) was a target.
 */
export function takeCountOption(argv: TraceArgs): string | undefined {
  const v = argv.count;
  if (v === undefined || v === false) return undefined;
  if (v === true || v === '') return 'comm';
  const m = /^by=([^]*)$/.exec(v);
  if (m) {
    if (m[1].trim() === '') throw new OptionError('--count by= needs comm, pid, probe, cgroup, container or an argument expression');
    return m[1].trim();
  }
  if (COUNT_KEYS.includes(v)) return v;
  argv.targets.push(v);
  return 'comm';
}

/** Every target the command line names: positional ones, then --syscall, then --tracepoint. */
export function targetsOf(argv: TraceArgs): Target[] {
  return [
    ...argv.targets.map((t) => parseTarget(t, argv.ret)),
    ...argv.syscall.map((name): Target => ({ kind: 'syscall', name, ret: argv.ret })),
    ...argv.tracepoint.map((name): Target => ({ kind: 'tracepoint', name })),
  ];
}

/** `--cgroup`: digits are a cgroup id, anything else a path or 'self'. */
function cgroupOption(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw new OptionError("--cgroup needs a cgroup path, 'self' or a cgroup id");
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The probe options the filters and fetch flags ask for. */
export function probeOptionsOf(argv: TraceArgs, stack?: StackKind): ProbeOptions {
  return {
    pid: argv.pid,
    tid: argv.tid,
    uid: argv.uid,
    comm: argv.comm,
    cgroup: cgroupOption(argv.cgroup),
    args: argv.arg.length ? argv.arg : undefined,
    filter: argv.filter,
    stringSize: argv.stringSize,
    stack,
  };
}

/**
 * For stacks: where separate debug files are (--debug-dir), and the -c
 * command's program, whose frames are then named by build id even when it
 * exits at once.
 */
export function offerStackFiles(argv: TraceArgs): void {
  if (argv.debugDir?.length) setDebugDirectories(argv.debugDir);
  const program = argv.c?.trim().split(/\s+/)[0];
  if (!program || !/^[\w@%+=:,./-]+$/.test(program)) return;
  try {
    rememberFile(resolveBinary(program));
  } catch {
    // Not a program we can find (a shell builtin, say): its frames are found as others are.
  }
}
