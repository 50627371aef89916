/** Collecting a probe's events in host tests. */
import { execFile } from 'child_process';
import type { Probe, TraceEvent } from '../../lib';
import { until } from './proc';

/** Every event the probe emits from now on. */
export function collect<E extends TraceEvent = TraceEvent>(probe: Probe<E>): E[] {
  const events: E[] = [];
  probe.on('event', (ev: E) => events.push(ev));
  return events;
}

/** Waits until an event matches; fails with what did arrive. */
export async function waitForEvent<E extends TraceEvent>(events: E[], match: (ev: E) => boolean, what: string, timeoutMs = 5000): Promise<E> {
  if (!(await until(() => events.some(match), timeoutMs))) {
    const seen = events.slice(-10).map((e) => `${e.comm}/${e.pid} ${JSON.stringify(e.args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    throw new Error(`no event ${what} within ${timeoutMs} ms; ${events.length} events, last: ${seen.join('; ') || 'none'}`);
  }
  return events.find(match) as E;
}

/** Runs `sync --file-system /` (a syncfs(2) on /); resolves with its pid once it has exited. */
export function syncfs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = execFile('sync', ['--file-system', '/'], (err) => (err ? reject(err) : resolve(child.pid as number)));
  });
}

/** The error `fn` throws; fails the test when it throws nothing. */
export function errorOf(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected an error, but the call returned');
}
