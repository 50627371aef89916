/**
 * What every summary shares (counts and histograms): its probes, reading
 * after close, closing, and closing on an abort.
 */
import { closeOnAbort } from '../core/abort';
import type { Probe } from '../core/probe';
import type { Session } from '../core/session';

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


/** `{ signal }`: an abort closes the summary (its main probe closes last, with it). */
export function abortable<S extends Summary<unknown>>(summary: S, signal: AbortSignal | undefined): S {
  closeOnAbort(signal, summary.probes[summary.probes.length - 1], () => summary.close());
  return summary;
}
