/**
 * `{ signal }` on attach and summary functions: attaching with a signal that
 * has aborted already throws its reason (nothing is attached); a later abort
 * closes what was attached. The abort listener goes when the probe closes
 * first, so that a long-lived signal does not collect listeners.
 */
import type { Probe } from './probe';

/**
 * Calls `close` when `signal` aborts. `probe` is the one whose 'close' event
 * says it closed otherwise (a summary's main probe, for a summary).
 */
export function closeOnAbort(signal: AbortSignal | undefined, probe: Probe, close: () => void = () => probe.close()): void {
  if (!signal || probe.closed) return;
  if (signal.aborted) {
    close(); // aborted while it was being attached
    return;
  }
  const onAbort = () => close();
  signal.addEventListener('abort', onAbort, { once: true });
  probe.once('close', () => signal.removeEventListener('abort', onAbort));
}
