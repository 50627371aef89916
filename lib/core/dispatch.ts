/**
 * Routing one batch from the ring buffer: each record (behind its ring
 * header) goes to its probe by the probe id it carries, and each probe gets
 * its records at once: as an EventBatch to `batch` listeners and one
 * TraceEvent each to `event` listeners. No object is made per record unless
 * an `event` listener asks for it.
 *
 * The batch is the session's scratch buffer, reused by the next one: an
 * EventBatch is valid during its listener's call (batch.copy() keeps one);
 * events, which listeners keep freely, read from a copy of the batch made
 * once for all the probes that have `event` listeners.
 */
import { layout } from '../sys/abi';
import { rememberMaps } from '../sys/procfs';
import { publishError, publishLost } from './channels';
import type { RecordDecoder } from './decode';
import { EventBatch, RING_HEADER, TraceEvent } from './event';
import type { Probe } from './probe';

export interface Entry {
  id: number;
  /** The part's key (lib/core/session.ts ProbePart.key). */
  key: string;
  probe: Probe;
  decoder: RecordDecoder;
  links: number[];
  lostSeen: number;
  /** The ids of every part of the probe (one, unless it has parts); the same array in each. */
  group: number[];
  /** Where this probe's records of the batch being dispatched are collected; shared by its parts. */
  delivery: Delivery;
}

/** One probe's records in the batch being dispatched (reused from batch to batch). */
export interface Delivery {
  probe: Probe;
  offsets: Int32Array;
  decoders: RecordDecoder[];
  count: number;
}

const R = layout.record;
/** The busy and discard flags of a ring record's header, and the length bits. */
const RING_DISCARD = 0x40000000;
const RING_LEN_MASK = 0x3fffffff;

/** Delivers the first `length` bytes of `batch` to the probes of `byId` (indexed by probe id); returns a listener's first exception. */
export function deliverBatch(batch: Buffer, length: number, byId: ArrayLike<Entry | undefined>): unknown {
  const touched: Delivery[] = [];
  for (let at = 0; at + RING_HEADER <= length; ) {
    const header = batch.readUInt32LE(at);
    const len = header & RING_LEN_MASK;
    const rec = at + RING_HEADER;
    at = rec + ((len + 7) & ~7);
    if (header & RING_DISCARD || len < R.size || at > length) continue;
    const entry = byId[batch.readUInt32LE(rec + R.probe_id)];
    if (!entry) continue;
    const d = entry.delivery;
    if (d.count === 0) touched.push(d);
    if (d.count === d.offsets.length) {
      const bigger = new Int32Array(d.offsets.length * 2);
      bigger.set(d.offsets);
      d.offsets = bigger;
    }
    d.offsets[d.count] = rec;
    d.decoders[d.count++] = entry.decoder;
    // Symbolizing needs the process's mappings: snapshot them while it still exists
    // (pid 0: a process outside our PID namespace, which our /proc does not show).
    if (entry.decoder.userStacks) {
      const pid = batch.readUInt32LE(rec + R.pid);
      if (pid) rememberMaps(pid);
    }
  }
  let failure: unknown;
  let kept: Buffer | undefined; // the batch copied for events, which may outlive it
  for (const d of touched) {
    try {
      if (d.probe.listenerCount('event') > 0) kept ??= Buffer.from(batch.subarray(0, length));
      deliver(batch, kept, d);
    } catch (e) {
      failure ??= e;
    }
    d.count = 0;
    d.decoders.length = 0;
  }
  return failure;
}

function deliver(batch: Buffer, kept: Buffer | undefined, d: Delivery): void {
  const { probe, count } = d;
  probe.seen += count;
  if (probe.listenerCount('batch') > 0) probe.emit('batch', new EventBatch(batch, d.offsets.slice(0, count), d.decoders.slice(0, count)));
  if (!kept || probe.listenerCount('event') === 0) return;
  let failure: unknown;
  for (let i = 0; i < count; i++) {
    try {
      probe.emit('event', new TraceEvent(kept, d.offsets[i], d.decoders[i]));
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * Emits `event` as the event loop's own emitters do: an exception of a
 * listener (or an 'error' nobody listens to, which EventEmitter throws) does
 * not stop the delivery to other probes; it is returned, for rethrowLater().
 */
function emitCaught(probe: Probe, event: string, ...args: unknown[]): unknown {
  try {
    probe.emit(event, ...args);
    return undefined;
  } catch (e) {
    return e;
  }
}

/** A listener's exception surfaces as an uncaught exception (process 'uncaughtException') on the next tick. */
export function rethrowLater(e: unknown): void {
  if (e === undefined) return;
  process.nextTick(() => {
    throw e;
  });
}

/** `error` to each probe (and its channel), all of them whatever a listener throws; returns the first exception. */
export function emitError(probes: Iterable<Probe>, error: Error): unknown {
  let thrown: unknown;
  for (const probe of probes) {
    publishError(probe, error);
    const t = emitCaught(probe, 'error', error);
    thrown ??= t;
  }
  return thrown;
}

/** Each probe's new losses, from the kernel's count `lostOf(id)`: added to `lost`, emitted as `lost`; returns a listener's first exception. */
export function reportLost(entries: Iterable<Entry>, lostOf: (id: number) => number): unknown {
  let thrown: unknown;
  for (const entry of entries) {
    const n = lostOf(entry.id);
    if (n <= entry.lostSeen) continue;
    const delta = n - entry.lostSeen;
    entry.lostSeen = n;
    entry.probe.lost += delta;
    publishLost(entry.probe, delta);
    const t = emitCaught(entry.probe, 'lost', delta);
    thrown ??= t;
  }
  return thrown;
}
