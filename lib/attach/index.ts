/**
 * Attaching, for every kind of target: the one place that dispatches on a
 * target's kind. The public attach functions (lib/api.ts), the summaries,
 * pinning and the CLI all come through attachTarget().
 */
import type { Probe } from '../core/probe';
import type { Session } from '../core/session';
import type { SummaryConfig } from './compile';
import { attachKprobeTarget } from './kprobe';
import type { KprobeOptions, ProbeOptions, SyscallOptions } from './options';
import { attachProfileTarget } from './profile';
import { attachSyscallTarget } from './syscall';
import { rememberMaps } from '../sys/procfs';
import type { Target } from './target';
import { attachTracepointTarget } from './tracepoint';
import { attachUprobeTarget } from './uprobe';

export interface AttachHow {
  /** The session to attach in; the process's own by default. */
  session?: Session;
  /** A summary the kernel computes instead of emitting events (lib/summary/). */
  summary?: SummaryConfig;
}

type Attacher<T extends Target> = (t: T, opts: KprobeOptions | undefined, session: Session | undefined, summary?: SummaryConfig) => Probe;

const ATTACHERS: { [K in Target['kind']]: Attacher<Target & { kind: K }> } = {
  kprobe: (t, o, s, sum) => attachKprobeTarget(t.name, false, o, s, sum),
  kretprobe: (t, o, s, sum) => attachKprobeTarget(t.name, true, o, s, sum),
  tracepoint: (t, o, s, sum) => attachTracepointTarget(t.name, o, s, sum),
  syscall: (t, o, s, sum) => attachSyscallTarget(t.name, { ...o, ret: t.ret } as SyscallOptions, s, sum),
  uprobe: (t, o, s, sum) => attachUprobeTarget(t, o, s, sum),
  uretprobe: (t, o, s, sum) => attachUprobeTarget(t, o, s, sum),
  profile: (t, o, s, sum) => attachProfileTarget(t, o, s, sum),
};

/** Attaches `target` with `opts`; `pin` is not handled here (lib/api.ts, lib/pin.ts). */
export function attachTarget(target: Target, opts?: ProbeOptions & KprobeOptions, how: AttachHow = {}): Probe {
  const attach = ATTACHERS[target.kind] as Attacher<Target>;
  const probe = attach(target, opts, how.session, how.summary);
  // User stacks of one process: what names its frames is taken now, in case it exits before its first event is read.
  if (opts?.pid !== undefined && (opts.stack === 'user' || opts.stack === 'both')) rememberMaps(opts.pid);
  return probe;
}

export type { Compiled, SummaryConfig } from './compile';
export { checkOptions, checkSignal } from './options';
export type { KprobeOptions, ProbeOptions, SyscallOptions, UprobeOptions } from './options';
export { formatTarget, isUprobe, onReturn, parseTarget, withReturn } from './target';
export type { ProfileTarget, Target, TargetKind, UprobeTarget } from './target';
