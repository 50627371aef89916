/**
 * Records from a BPF ring buffer (or perf event array) of a loaded object,
 * decoded from their BTF type: an event emitter and an async iterator, fed
 * a batch at a time from the event loop (one native call per batch, not per
 * record). Closing it, closing its object, or the process ending stops it.
 */
import { EventEmitter } from 'events';
import { OptionError } from '../errors';
import type { Codec } from '../btf/values';
import { asyncDispose, iterateEvents } from '../core/iterate';
import { toTypedError } from '../sys/errno';

export interface RingBufferOptions {
  /**
   * Where the program counts records it could not reserve: a global
   * variable (`__u64 dropped;` in .bss or .data) or a map whose values are
   * summed (an array or per-CPU array of counters). Its increases are
   * reported as `lost`. A perf event array's losses are counted by the
   * kernel and need no counter.
   */
  lost?: string;
  /** How often the buffer is drained when no wake-up came, in ms (default 10): records submitted with BPF_RB_NO_WAKEUP wait at most this long. */
  drainMs?: number;
  /** Perf event arrays: pages of buffer per CPU, a power of two (default 64). */
  pages?: number;
}

export interface RingBufferEvents<T> {
  event: [T];
  /** `count` more records were dropped: counted by the program (`lost` option) or, for perf buffers, by the kernel. */
  lost: [count: number];
  error: [Error];
  close: [];
}

/** How a reader reaches its object: it opens, drains and closes the native reader. */
export interface RingOwner {
  open(onBatch: (batch: Buffer, length?: number) => void, onError: (e: Error) => void): number;
  drain(reader: number): void;
  close(reader: number): void;
  /** The total lost so far (the program's counter, or the kernel's for perf buffers). */
  lostSoFar(reader: number): number;
}

/** Each record is behind a header: a u32 length (its top bits the ring's busy and discard flags) and a u32. */
const HEADER = 8;
const LEN_MASK = 0x3fffffff;
const DISCARDED = 0x40000000;

export class RingBuffer<T = unknown> extends EventEmitter {
  /** Records delivered so far. */
  seen = 0;
  /** Records dropped so far (see RingBufferOptions.lost). */
  lost = 0;
  #closed = false;
  #reader: number;
  #lostSeen: number;

  /** @internal From `object.ringBuffer()` or `object.perfBuffer()`. */
  constructor(
    private readonly owner: RingOwner,
    /** The map read. */
    readonly map: string,
    readonly kind: 'ringbuf' | 'perf_event_array',
    private readonly codec: Codec,
  ) {
    super();
    this.#reader = owner.open(
      (batch, length) => this.dispatch(batch, length ?? batch.length),
      (e) => this.emit('error', toTypedError(e, `read ${kind} ${map}`)),
    );
    // Losses are looked at after each batch: a record is lost only when the buffer is full, so a batch comes to find it by.
    this.#lostSeen = owner.lostSoFar(this.#reader);
  }

  /** The C type records are decoded as. */
  get type(): string {
    return this.codec.type;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Delivers the records buffered so far, now. */
  flush(): void {
    if (this.#closed) return;
    this.owner.drain(this.#reader);
    this.checkLost();
  }

  /** Delivers what is buffered, stops reading, then emits `close`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.owner.close(this.#reader);
    this.#closed = true;
    this.emit('close');
  }

  async [asyncDispose](): Promise<void> {
    this.close();
  }

  /** Records until the reader closes. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return iterateEvents<T>(this, () => this.lost++);
  }

  private dispatch(batch: Buffer, length: number): void {
    let failure: unknown;
    const size = this.codec.size;
    for (let at = 0; at + HEADER <= length; ) {
      const header = batch.readUInt32LE(at);
      const len = header & LEN_MASK;
      if (header & DISCARDED) {
        // a record its program discarded
      } else if (len >= size) {
        this.seen++;
        try {
          this.emit('event', this.codec.decode(batch, at + HEADER));
        } catch (e) {
          failure ??= e;
        }
      } else {
        failure ??= new OptionError(`${this.map}: a record of ${len} bytes is shorter than ${this.codec.type} (${size} bytes): is it the type the program submits?`);
      }
      at += HEADER + ((len + 7) & ~7);
    }
    this.checkLost();
    // A listener's exception surfaces as it would from any emitter, after the batch is delivered.
    if (failure !== undefined) {
      if (failure instanceof OptionError && this.listenerCount('error')) this.emit('error', failure);
      else {
        process.nextTick(() => {
          throw failure;
        });
      }
    }
  }

  private checkLost(): void {
    if (this.#closed) return;
    const n = this.owner.lostSoFar(this.#reader);
    if (n > this.#lostSeen) {
      const delta = n - this.#lostSeen;
      this.#lostSeen = n;
      this.lost += delta;
      this.emit('lost', delta);
    }
  }

  override on<K extends keyof RingBufferEvents<T>>(event: K, listener: (...args: RingBufferEvents<T>[K]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends keyof RingBufferEvents<T>>(event: K, listener: (...args: RingBufferEvents<T>[K]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }
}
