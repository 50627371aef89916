/**
 * Tracepoints: hooks the kernel defines, with the fields of their format
 * files (read from tracefs) as arguments.
 */
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { checkPrivileges } from '../sys/features';
import { TracepointFormat, readFormat } from '../sys/tracefs';
import { Compiled, SummaryConfig, compile, needsTypes } from './compile';
import { tracepointFormatContext } from './contexts';
import { ProbeOptions, TRACEPOINT, checkName, checkOptions } from './options';

/** A tracepoint, `category:name`, in `session`. */
export function attachTracepointTarget(tracepoint: string, opts: ProbeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  checkName('tracepoint', tracepoint, TRACEPOINT, 'category:name');
  const o = checkOptions(opts);
  checkPrivileges();
  const [category, name] = tracepoint.split(':');
  const format = readFormat(category, name);
  const compiled = compile(tracepointFormatContext(format, needsTypes(o, summary)), o, undefined, summary);
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
