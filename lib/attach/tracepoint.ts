/**
 * Tracepoints: hooks the kernel defines, with the fields of their format
 * files (read from tracefs) as arguments. A pattern (`syscalls:sys_enter_*`,
 * `sched:sched*`) attaches every tracepoint it matches, each as a part with
 * its own fields.
 */
import type { Probe } from '../core/probe';
import { ProbePart, Session } from '../core/session';
import { NotFoundError } from '../errors';
import { checkPrivileges } from '../sys/features';
import { globMatcher, isGlob } from '../sys/glob';
import { closest } from '../sys/names';
import { TracepointFormat, listTracepoints, readFormat } from '../sys/tracefs';
import { Compiled, SummaryConfig, compile, needsTypes, partSummary } from './compile';
import { tracepointFormatContext } from './contexts';
import { ProbeOptions, TRACEPOINT, TRACEPOINT_GLOB, checkName, checkOptions } from './options';
import { attachEach, compileParts, skippedWarning } from './parts';

/** A tracepoint, `category:name`, or every one a pattern matches, in `session`. */
export function attachTracepointTarget(tracepoint: string, opts: ProbeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  if (typeof tracepoint === 'string' && isGlob(tracepoint)) return attachTracepoints(tracepoint, opts, session, summary);
  checkName('tracepoint', tracepoint, TRACEPOINT, 'category:name');
  const o = checkOptions(opts);
  checkPrivileges();
  const [category, name] = tracepoint.split(':');
  const format = readFormat(category, name);
  const compiled = compile(tracepointFormatContext(format, needsTypes(o)), o, undefined, summary);
  return attachFormat(format, compiled, `tracepoint:${tracepoint}`, session);
}

/** Attaches a compiled probe to the tracepoint `format` describes, under `name`. */
export function attachFormat(format: TracepointFormat, compiled: Compiled, name: string, session: Session | undefined): Probe {
  const tp = `${format.category}:${format.name}`;
  const probe = (session ?? Session.get()).attach({
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${tp}`,
    parts: [{ name, plans: compiled.plans, config: compiled.config }],
    attach: (t, [id]) => [t.attachTracepoint(format.category, format.name, id)],
    describe: `attach tracepoint ${tp}`,
  });
  probe.explain = `tracepoint ${tp}: a hook the kernel defines, with the fields of its format file`;
  return probe;
}

/** The tracepoints (`category:name`) a pattern matches, sorted; NotFoundError, with close names, when none does. */
export function matchTracepoints(pattern: string): string[] {
  const all = listTracepoints().map((t) => `${t.category}:${t.name}`);
  const match = globMatcher(pattern);
  const found = all.filter(match).sort();
  if (!found.length) throw new NotFoundError(`no tracepoint matches ${pattern}`, closest(pattern.replace(/[*?[\]!]/g, ''), all));
  return found;
}

/**
 * A probe over every tracepoint `pattern` matches, `tracepoint:<pattern>`;
 * its events name their own tracepoint (`tracepoint:syscalls:sys_enter_openat`).
 */
function attachTracepoints(pattern: string, opts: ProbeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  checkName('tracepoint pattern', pattern, TRACEPOINT_GLOB, 'syscalls:sys_enter_*');
  const o = checkOptions(opts);
  checkPrivileges();
  const names = matchTracepoints(pattern);
  const { parts, compiled, skipped } = compileParts(names, (tp): ProbePart => {
    const [category, name] = tp.split(':');
    const c = compile(tracepointFormatContext(readFormat(category, name), needsTypes(o)), o, undefined, partSummary(summary, tp));
    return { name: `tracepoint:${tp}`, key: tp, plans: c.plans, config: c.config };
  });
  let attached: ReturnType<typeof attachEach> | undefined;
  const warnings: string[] = [];
  const name = `tracepoint:${pattern}`;
  const probe = (session ?? Session.get()).attach({
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${compiled.length} tracepoints`,
    parts,
    attach: (t, cookies) => {
      attached = attachEach(compiled, cookies, (tp, cookie) => t.attachTracepoint(tp.split(':')[0], tp.split(':')[1], cookie), { kind: 'tracepoint', things: 'tracepoints' });
      return attached.links;
    },
    warnings,
    describe: `attach ${name}`,
  });
  const done = attached as ReturnType<typeof attachEach>;
  probe.skipped = [...skipped, ...done.skipped];
  warnings.push(...skippedWarning(probe.skipped, names.length, 'tracepoints'));
  const failed = new Set(done.skipped.map((x) => x.name));
  probe.partPlans = new Map(parts.filter((p) => !failed.has(p.key as string)).map((p) => [p.name, p.plans]));
  probe.explain = [
    `${pattern} matches ${names.length} tracepoint${names.length > 1 ? 's' : ''} (tracefs available_events)`,
    `strategy: one link per tracepoint, each with its own cookie, so each event names its tracepoint`,
  ].join('\n');
  return probe;
}
