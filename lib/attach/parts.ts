/**
 * Probes over many things at once (a pattern: `vfs_*`, `syscalls:sys_enter_*`,
 * `syscall:*open*`): one part each, each with its own probe id, config and
 * decoder. What one of them cannot do (an argument it lacks, an attach the
 * kernel refuses) skips it, with the reason, and the others go on; only
 * when none is left does the whole probe fail.
 */
import type { ProbePart } from '../core/session';
import { KprobeNodeError } from '../errors';
import { toTypedError } from '../sys/errno';

/** A thing of a pattern that was left out, and why. */
export interface Skipped {
  name: string;
  reason: string;
}

/**
 * Compiles one part per name with `each`; a name whose part fails with a
 * typed error is skipped, unless it is the only one (then its error is the probe's).
 */
export function compileParts(names: readonly string[], each: (name: string) => ProbePart): { parts: ProbePart[]; compiled: string[]; skipped: Skipped[] } {
  const parts: ProbePart[] = [];
  const compiled: string[] = [];
  const skipped: Skipped[] = [];
  let firstError: unknown;
  for (const name of names) {
    try {
      parts.push(each(name));
      compiled.push(name);
    } catch (e) {
      if (!(e instanceof KprobeNodeError) || names.length === 1) throw e;
      firstError ??= e;
      skipped.push({ name, reason: e.message.split('\n')[0] });
    }
  }
  if (!parts.length) throw firstError;
  return { parts, compiled, skipped };
}

/**
 * Attaches `names[i]` with `cookies[i]` one at a time (`what`: `kprobe`
 * `functions`); one that fails is skipped. Fails as a whole only when none attached.
 */
export function attachEach(
  names: readonly string[],
  cookies: readonly number[],
  attach: (name: string, cookie: number) => number,
  what: { kind: string; things: string },
  progress?: (done: number, total: number) => void,
): { links: number[]; skipped: Skipped[] } {
  const links: number[] = [];
  const skipped: Skipped[] = [];
  let error: unknown;
  for (let i = 0; i < names.length; i++) {
    try {
      links.push(attach(names[i], cookies[i]));
    } catch (e) {
      if (names.length === 1) throw e;
      error ??= e;
      skipped.push({ name: names[i], reason: toTypedError(e, `attach ${what.kind}:${names[i]}`).message });
    }
    if (progress && (i % 16 === 15 || i === names.length - 1)) progress(i + 1, names.length);
  }
  if (!links.length) throw toTypedError(error, `attach ${what.kind}s: none of the ${names.length} ${what.things} could be attached`);
  return { links, skipped };
}

/** "3 of 40 tracepoints could not be attached and were skipped", for a probe's warnings. */
export function skippedWarning(skipped: readonly Skipped[], total: number, what: string): string[] {
  return skipped.length ? [`${skipped.length} of ${total} ${what} could not be attached and were skipped (probe.skipped says why)`] : [];
}
