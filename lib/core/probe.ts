/**
 * A Probe is one attached trace point (or several, for wildcards): a typed
 * event emitter and an async iterator over its events. Closing it detaches
 * it from the kernel; so does the process exiting or being killed, because
 * the kernel drops links with the file descriptors that hold them.
 */
import { EventEmitter } from 'events';
import { publishDetach } from './channels';
import type { ArgPlan } from './decode';
import type { EventBatch, TraceEvent } from './event';
import { asyncDispose, dispose, iterateEvents } from './iterate';

export type ProbeKind = 'kprobe' | 'kretprobe' | 'tracepoint' | 'uprobe' | 'uretprobe' | 'profile';

/** How the session detaches a probe and delivers its records; lib/core/session.ts implements it. */
export interface ProbeOwner {
  close(probe: Probe): void;
  flush(): void;
  setRef(probe: Probe, ref: boolean): void;
  setPaused(probe: Probe, paused: boolean): void;
}

/** An argument as the probe describes it. */
export interface ArgInfo {
  name: string;
  type: string;
}

export interface ProbeEvents<E> {
  event: [E];
  /** Every event of one batch from the ring buffer, read by index: the fastest way to consume a flood. */
  batch: [EventBatch];
  /** `count` more events were dropped in the kernel because the ring buffer was full. */
  lost: [count: number];
  error: [Error];
  close: [];
}

export class Probe<E extends TraceEvent = TraceEvent> extends EventEmitter {
  /** Events delivered to JavaScript so far. */
  seen = 0;
  /** Events the kernel dropped so far (ring buffer full). */
  lost = 0;
  /** How it was attached and why (the strategy, fallbacks, clones, inlining), one point per line. */
  explain = '';
  /** Functions a wildcard matched that could not be attached, and why; the rest were. */
  skipped: Array<{ name: string; reason: string }> = [];
  /** The kernel functions a kprobe attached to: the matches of a pattern, a clone, or the function itself. */
  functions: string[] = [];
  /** For a probe over several functions: each one's arguments, by event probe name (`kprobe:vfs_fsync`). */
  partPlans?: Map<string, readonly ArgPlan[]>;
  #closed = false;

  constructor(
    private readonly owner: ProbeOwner,
    /** Session-wide id; the BPF cookie of the probe's links. */
    readonly id: number,
    /** E.g. `kprobe:vfs_fsync_range`, `tracepoint:syscalls:sys_enter_openat`. */
    readonly name: string,
    readonly kind: ProbeKind,
    /** What was attached and how: `kprobe __x64_sys_openat`, `tracepoint syscalls:sys_enter_openat`. */
    readonly strategy: string,
    readonly plans: readonly ArgPlan[],
    /** Things the user should know about how the probe was attached. */
    readonly warnings: readonly string[] = [],
  ) {
    super();
  }

  /** The arguments events carry, with their C types. */
  get args(): ArgInfo[] {
    return this.plans.filter((p) => !p.fetch.hidden && !p.isReturn).map((p) => ({ name: p.name, type: p.type }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches from the kernel, delivers what is still buffered, then emits `close`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.owner.close(this);
    this.#closed = true;
    publishDetach(this);
    this.emit('close');
  }

  /**
   * Lets the process exit while this probe is attached (as a timer's unref()
   * does): for a service whose probes should not keep it running.
   */
  unref(): this {
    this.owner.setRef(this, false);
    return this;
  }

  /** Undoes unref(): the attached probe keeps the process alive again (the default). */
  ref(): this {
    this.owner.setRef(this, true);
    return this;
  }

  /**
   * Stops reading the ring buffer, for a consumer that cannot keep up (a
   * blocked output, a full queue): records wait in the kernel, and what
   * does not fit is counted in `lost`, instead of piling up in memory. The
   * ring is shared by the process's probes: while one is paused, none is
   * read. resume() starts again with what waits.
   */
  pause(): this {
    if (!this.#closed) this.owner.setPaused(this, true);
    return this;
  }

  /** Undoes pause(). */
  resume(): this {
    if (!this.#closed) this.owner.setPaused(this, false);
    return this;
  }

  /** Delivers the events the kernel has buffered so far, now, instead of at the next drain. */
  flush(): void {
    if (!this.#closed) this.owner.flush();
  }

  /** `await using probe = attach…()` closes it at the end of the scope. */
  async [asyncDispose](): Promise<void> {
    this.close();
  }

  /** `using probe = attach…()` closes it at the end of the scope. */
  [dispose](): void {
    this.close();
  }

  /**
   * Events until the probe closes. Events nobody has taken yet wait in a
   * queue of at most 65,536; past that the oldest are dropped and counted in
   * `lost`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<E> {
    // A queued event keeps only its own record, not the batch it came in.
    return iterateEvents<E>(this, () => this.lost++, (ev) => (ev as unknown as { detach(): E }).detach());
  }

  override on<K extends keyof ProbeEvents<E>>(event: K, listener: (...args: ProbeEvents<E>[K]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends keyof ProbeEvents<E>>(event: K, listener: (...args: ProbeEvents<E>[K]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }
}
