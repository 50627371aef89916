/**
 * What every in-kernel summary shares (counts, histograms, stack counts): how a target is named, the options
 * all summaries take, attaching their probes, and the Summary base class
 * (reading at any time, reading after close, reset, close).
 */
import { AttachHow, ProbeOptions, SummaryConfig, Target, attachTarget, checkOptions, isUprobe, parseTarget, withReturn } from '../attach';
import { closeOnAbort } from '../core/abort';
import type { Probe } from '../core/probe';
import type { Session } from '../core/session';
import { OptionError } from '../errors';

/**
 * Where a summary attaches: CLI syntax (`syscall:openat`, `tracepoint:cat:name`,
 * `vfs_read`, `uprobe:libc:malloc`) or a parsed target.
 */
export type TargetSpec = string | Target;

export interface SummaryOptions extends Omit<ProbeOptions, 'args' | 'stack' | 'pin'> {
  /** Attach to the return (syscall exit, kretprobe); implied by an expression on `ret`/`retval`. */
  ret?: boolean;
}

export function toTarget(spec: TargetSpec, ret: boolean): Target {
  if (typeof spec === 'string') return parseTarget(spec, ret);
  const ok =
    spec &&
    typeof spec === 'object' &&
    (isUprobe(spec) ? typeof spec.binary === 'string' : spec.kind === 'profile' ? typeof spec.rate === 'number' : typeof (spec as { name?: unknown }).name === 'string');
  if (!ok) throw new OptionError('target must be a string like syscall:openat or a parsed target');
  return ret ? withReturn(spec, true) : spec;
}

export function checkSummaryOptions<O extends SummaryOptions>(opts: O | undefined): O {
  const o = checkOptions(opts as ProbeOptions) as O & ProbeOptions;
  o.signal?.throwIfAborted();
  if (o.args !== undefined) throw new OptionError('a summary fetches only what it summarises: give the value as `by` or the histogram expression, not args');
  if (o.stack !== undefined) throw new OptionError('counts, histograms and latency do not record stacks: countStacks() counts stacks in the kernel');
  if (o.pin !== undefined) throw new OptionError('in-kernel summaries cannot be pinned: pin a probe that streams events');
  return o;
}

/** Attaches one probe of a summary in the process's session. */
export function attachTo(t: Target, opts: ProbeOptions, summary: SummaryConfig, session: Session): Probe {
  const how: AttachHow = { session, summary };
  return attachTarget(t, opts, how);
}

/** `{ signal }`: an abort closes the summary (its main probe closes last, with it). */
export function abortable<S extends Summary<unknown>>(summary: S, signal: AbortSignal | undefined): S {
  closeOnAbort(signal, summary.probes[summary.probes.length - 1], () => summary.close());
  return summary;
}

/** Where the runtime lacks Symbol.asyncDispose, the well-known registry symbol TypeScript's `await using` falls back to. */
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);
const dispose: typeof Symbol.dispose = Symbol.dispose ?? (Symbol.for('Symbol.dispose') as typeof Symbol.dispose);

/** What every summary shares: its probes, reading after close, closing. */
export abstract class Summary<S> {
  #closed = false;
  #final?: S;
  #lostBase = 0;

  protected constructor(
    /** The session the probes are in: its maps hold the summary. */
    protected readonly session: Session,
    /** The probes in the kernel: one, or an entry and a return probe for latency. */
    readonly probes: readonly Probe[],
    /** The probe whose hits are summarised (and whose losses count as dropped). */
    protected readonly main: Probe,
  ) {}

  /** The target, e.g. `syscall:openat`, `kprobe:vfs_read`. */
  abstract readonly name: string;

  get closed(): boolean {
    return this.#closed;
  }

  /** Hits the kernel could not add (the count map was full) since the last reset. */
  get dropped(): number {
    if (!this.#closed) this.session.flush(); // picks up the kernel's loss counters now
    return this.main.lost - this.#lostBase;
  }

  /** The summary now. After close(), the last one taken before detaching. */
  snapshot(): S {
    if (this.#closed) return this.#final as S;
    return this.read();
  }

  /** Starts from zero. */
  reset(): void {
    if (this.#closed) return;
    this.clear();
    this.#lostBase = this.main.lost;
  }

  /** Detaches the probes and frees their map entries; the last snapshot stays readable. Idempotent. */
  close(): void {
    if (this.#closed) return;
    // Detach first so that the final reading is final.
    for (const p of this.probes) if (p !== this.main) p.close();
    try {
      this.#final = this.read();
    } finally {
      this.main.close();
      this.#closed = true;
    }
  }

  async [asyncDispose](): Promise<void> {
    this.close();
  }

  [dispose](): void {
    this.close();
  }

  protected abstract read(): S;
  protected abstract clear(): void;
}

