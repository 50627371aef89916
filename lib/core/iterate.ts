/**
 * An async iterator over an emitter's `event`s, for everything that streams
 * records (probes, ring buffers): it ends when the source closes, throws the
 * source's `error`, and closes the source when the loop is left early.
 */
import type { EventEmitter } from 'events';

// Runtimes without the well-known symbols (Node before 18.18, jest's sandbox) get
// registered stand-ins, so the methods never end up under the key "undefined".
export const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);
export const dispose: typeof Symbol.dispose = Symbol.dispose ?? (Symbol.for('Symbol.dispose') as typeof Symbol.dispose);

/** Events the iterator may hold before it drops (and counts) the oldest. */
export const ITERATOR_QUEUE_LIMIT = 65536;

export interface Iterable<E> extends EventEmitter {
  readonly closed: boolean;
  close(): void;
}

/**
 * Events of `source` until it closes, at most ITERATOR_QUEUE_LIMIT waiting;
 * `onDrop` is told of each event dropped (the oldest) because nobody read it;
 * `keep` makes an event safe to hold past its listener's call.
 */
export function iterateEvents<E>(source: Iterable<E>, onDrop: () => void, keep: (ev: E) => E = (ev) => ev): AsyncIterableIterator<E> {
  const queue = new EventQueue<E>(ITERATOR_QUEUE_LIMIT);
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const onEvent = (ev: E) => {
    if (queue.push(keep(ev))) onDrop();
    wake?.();
  };
  const onEnd = () => wake?.();
  const onError = (e: Error) => {
    failure = e;
    wake?.();
  };
  source.on('event', onEvent);
  source.on('close', onEnd);
  source.on('error', onError);
  const detach = () => {
    source.off('event', onEvent);
    source.off('close', onEnd);
    source.off('error', onError);
  };
  const iterator: AsyncIterableIterator<E> = {
    next: async (): Promise<IteratorResult<E>> => {
      for (;;) {
        if (queue.length) return { value: queue.shift(), done: false };
        if (failure) {
          detach();
          throw failure;
        }
        if (source.closed) {
          detach();
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    return: async (): Promise<IteratorResult<E>> => {
      detach();
      source.close();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** A bounded first-in first-out queue over a ring of slots: pushing onto a full one drops the oldest. */
class EventQueue<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  length = 0;

  constructor(capacity: number) {
    this.slots = new Array<T | undefined>(capacity);
  }

  /** Adds `item`; true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    const cap = this.slots.length;
    const full = this.length === cap;
    this.slots[(this.head + this.length) % cap] = item;
    if (full) this.head = (this.head + 1) % cap;
    else this.length++;
    return full;
  }

  shift(): T {
    const item = this.slots[this.head] as T;
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
    this.length--;
    return item;
  }
}
