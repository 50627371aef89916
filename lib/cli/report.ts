/**
 * What the CLI says besides events: one-line failures (exit 2 for a bad
 * option, 1 for anything else), warnings, and how each probe was attached.
 */
import type { Target } from '../attach';
import type { Probe } from '../core/probe';
import { ConfigError, KprobeNodeError, OptionError } from '../errors';
import { isGlob } from '../sys/glob';

/** Prints `kprobe-node: <reason>` and exits (2 for bad input); the full verifier log only with KPROBE_NODE_DEBUG. */
export function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`kprobe-node: ${message}\n`);
  if (process.env.KPROBE_NODE_DEBUG && e instanceof KprobeNodeError && e.log) process.stderr.write(e.log + '\n');
  process.exit(e instanceof OptionError || e instanceof ConfigError ? 2 : 1);
}

export function say(line: string): void {
  process.stderr.write(`kprobe-node: ${line}\n`);
}

/** What the user should know once a probe is attached: warnings, pattern totals, --explain. */
export function reportAttached(t: Target, probe: Probe, explain: boolean): void {
  for (const w of probe.warnings) say(`warning: ${w}`);
  if ((t.kind === 'kprobe' || t.kind === 'kretprobe') && isGlob(t.name)) {
    const skipped = probe.skipped.length;
    const total = probe.functions.length + skipped;
    say(`${t.name}: attached ${probe.functions.length} of ${total} function${total === 1 ? '' : 's'}, ${skipped} skipped`);
    if (explain) for (const s of probe.skipped) say(`  skipped ${s.name}: ${s.reason}`);
  }
  if (explain) {
    for (const l of [`${probe.name}: ${probe.strategy}`, ...probe.explain.split('\n').filter(Boolean).map((l) => `  ${l}`)]) say(l);
  }
}
