/**
 * The trace command's options as yargs hands them over, turned into targets
 * and probe options. yargs gives the word after a string option to that
 * option; where that word was meant as a target, it goes back to the targets.
 */
import { ProbeOptions, Target, parseTarget } from '../attach';
import { OptionError } from '../errors';
import { rememberFile, setDebugDirectories } from '../stacks/buildids';
import { resolveBinary } from '../sys/libraries';
import type { TimeFormat } from '../format/time';

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
  /** -f: text or json (json is --json). */
  format?: string;
  /** -o: write events and summaries to this file instead of stdout. */
  output?: string;
  /** -l: list what can be traced (the first target is the pattern). */
  l: boolean;
  /** -v: --explain, and how the BPF programs were loaded. */
  verbose: boolean;
  c?: string;
  /** With -c: exit with the command's exit status. */
  exitWithCommand: boolean;
  duration?: number;
  /** -M: stop after printing this many events. */
  maxEvents?: number;
  /** Print only the largest this many rows (counts, stacks, histograms). */
  top?: number;
  /** How event lines show the time (s, ms, us, ns, none, rel). */
  time?: string;
  /** Trace this process too (the CLI drops its own events by default). */
  includeSelf: boolean;
  /** `--count` alone is true; `--count by=pid` is the text after it. */
  count?: string | boolean;
  latency: boolean;
  hist?: string;
  /** Histograms (and counts): group by comm or pid. */
  by?: string;
  /** Linear histogram buckets: `min,max,step`. */
  linear?: string;
  /** Log-linear histogram buckets: each power of two split into 2^N. */
  logLinear?: number;
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
 * `--count` (by comm, or by probe for a pattern: returned as ''), `--count by=pid`,
 * `--count 'by=flags'`. A word after --count that is not a `by=` (nor a bare
 * key of COUNT_KEYS) was a target.
 */
export function takeCountOption(argv: TraceArgs): string | undefined {
  const v = argv.count;
  if (v === undefined || v === false) return undefined;
  if (v === true || v === '') return '';
  const m = /^by=([^]*)$/.exec(v);
  if (m) {
    if (m[1].trim() === '') throw new OptionError('--count by= needs comm, pid, probe, cgroup, container or an argument expression');
    return m[1].trim();
  }
  if (COUNT_KEYS.includes(v)) return v;
  argv.targets.push(v);
  return '';
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

/**
 * The probe options the filters and fetch flags ask for. The CLI does not
 * trace itself (its own syscalls would crowd out what the user asked for),
 * unless --include-self says so, --pid names it, or the probe is pinned (it
 * outlives this process, whose pid may then be another's).
 */
export function probeOptionsOf(argv: TraceArgs, stack?: StackKind): ProbeOptions {
  const self = argv.includeSelf || argv.pin !== undefined || argv.pid === process.pid;
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
    ...(self ? {} : { excludeSelf: true }),
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

/** Output as JSON lines: --json or -f json; -f takes text or json only. */
export function jsonOutput(argv: TraceArgs): boolean {
  const f = argv.format;
  if (f !== undefined && f !== 'text' && f !== 'json') {
    throw new OptionError(`-f (--format) is the output format, text or json, got ${JSON.stringify(f)}; a filter is --filter`);
  }
  if (f === 'text' && argv.json) throw new OptionError('-f text and --json contradict each other');
  return argv.json || f === 'json';
}

const TIME_FORMATS: readonly string[] = ['s', 'ms', 'us', 'ns', 'none', 'rel'];

/** --time: how event lines show when (default `s`, HH:MM:SS). */
export function timeFormatOf(argv: TraceArgs): TimeFormat {
  const t = argv.time ?? 's';
  if (!TIME_FORMATS.includes(t)) throw new OptionError(`--time takes ${TIME_FORMATS.join(', ')}, got ${JSON.stringify(t)}`);
  return t as TimeFormat;
}

/**
 * `--linear min,max,step` (each an integer, durations such as 10ms for
 * --latency) and `--log-linear N` as histogram options, checked in the
 * flags' own words.
 */
export function bucketOptionsOf(argv: TraceArgs): { linear?: { min: number; max: number; step: number }; bits?: number } {
  const out: { linear?: { min: number; max: number; step: number }; bits?: number } = {};
  if (argv.logLinear !== undefined) out.bits = argv.logLinear;
  if (argv.linear !== undefined) {
    const parts = String(argv.linear).split(',').map((x) => parseQuantity(x.trim(), argv.latency));
    if (parts.length !== 3 || parts.some((x) => x === undefined)) {
      throw new OptionError(`--linear takes min,max,step (integers${argv.latency ? ', or durations such as 10ms' : ''}), got ${JSON.stringify(argv.linear)}`);
    }
    const [min, max, step] = parts as number[];
    out.linear = { min, max, step };
  }
  return out;
}

const DURATIONS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** `200`, `-5`, `4K` (powers of 1024), and with durations `10ms`, `1.5s` (in ns). */
function parseQuantity(text: string, durations: boolean): number | undefined {
  const m = /^(-?\d+(?:\.\d+)?)(ns|us|ms|s|K|M|G)?$/.exec(text);
  if (!m) return undefined;
  const unit = m[2];
  if (unit && unit in DURATIONS && !durations) return undefined;
  const scale = unit === undefined ? 1 : (DURATIONS[unit] ?? 1024 ** ('KMG'.indexOf(unit) + 1));
  const v = Number(m[1]) * scale;
  return Number.isSafeInteger(v) ? v : undefined;
}
