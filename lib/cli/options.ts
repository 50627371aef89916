/**
 * The trace command's options as yargs hands them over, turned into targets
 * and probe options. yargs gives the word after a string option to that
 * option; where that word was meant as a target, it goes back to the targets.
 */
import { ProbeOptions, Target, parseTarget } from '../attach';
import { OptionError } from '../errors';

export interface TraceArgs {
  targets: string[];
  ret: boolean;
  syscall: string[];
  tracepoint: string[];
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
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

/**
 * `--count` (by comm), `--count by=pid`, `--count 'by=flags'`. A word after
 * --count that is not a `by=` (nor a bare comm, pid or probe) was a target.
 */
export function takeCountOption(argv: TraceArgs): string | undefined {
  const v = argv.count;
  if (v === undefined || v === false) return undefined;
  if (v === true || v === '') return 'comm';
  const m = /^by=([^]*)$/.exec(v);
  if (m) {
    if (m[1].trim() === '') throw new OptionError('--count by= needs comm, pid, probe or an argument expression');
    return m[1].trim();
  }
  if (['comm', 'pid', 'probe'].includes(v)) return v;
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

/** The probe options the filters and fetch flags ask for. */
export function probeOptionsOf(argv: TraceArgs, stack?: StackKind): ProbeOptions {
  return {
    pid: argv.pid,
    tid: argv.tid,
    uid: argv.uid,
    comm: argv.comm,
    args: argv.arg.length ? argv.arg : undefined,
    filter: argv.filter,
    stringSize: argv.stringSize,
    stack,
  };
}
