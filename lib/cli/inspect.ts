/**
 * `list [pattern]` and `info <target>`: what can be traced, and what a
 * target's arguments are, without attaching anything.
 */
import { OptionError } from '../errors';
import { Description, describeTarget } from '../inspect/describe';
import { ListedProbe, listProbes } from '../inspect/list';
import type { TraceArgs } from './options';
import { openOutput, output } from './output';

/** The arguments of a listed probe, as `info` shows them; a note when it has none to show. */
function argumentLines(r: ListedProbe): string[] {
  let d: Description;
  try {
    d = describeTarget(r.target);
  } catch (e) {
    return [`    (${(e as Error).message.split('\n')[0]})`];
  }
  return d.params.map((p) => `    ${p.type}${p.type.endsWith('*') ? '' : ' '}${p.name}${p.note ? `  (${p.note})` : ''}`);
}

/** `list [pattern]`; with `verbose`, each probe's arguments under it (bpftrace's -lv). */
export function list(argv: { pattern?: string; json: boolean; verbose?: boolean }): void {
  const rows = listProbes(argv.pattern);
  const lines = argv.json
    ? rows.map((r) => JSON.stringify(argv.verbose ? { ...r, params: argumentsOf(r) } : r))
    : rows.flatMap((r) => [r.module ? `${r.target} [${r.module}]` : r.target, ...(argv.verbose ? argumentLines(r) : [])]);
  output().write(lines.join('\n') + (rows.length ? '\n' : ''));
  if (!rows.length && argv.pattern !== undefined) process.stderr.write(`kprobe-node: nothing matches ${argv.pattern}\n`);
}

function argumentsOf(r: ListedProbe): Description['params'] | undefined {
  try {
    return describeTarget(r.target).params;
  } catch {
    return undefined;
  }
}

/** `-l [pattern]` on the trace command line: the list command, as bpftrace's -l is. */
export function listFlag(argv: TraceArgs): void {
  if (argv.targets.length > 1 || argv.syscall.length || argv.tracepoint.length) throw new OptionError('-l lists what one pattern matches (or everything): -l \'vfs_*\'');
  if (argv.output !== undefined) openOutput(argv.output);
  list({ pattern: argv.targets[0], json: argv.json || argv.format === 'json', verbose: argv.verbose });
}

export function info(argv: { target: string; json: boolean }): void {
  const d = describeTarget(argv.target);
  if (argv.json) {
    process.stdout.write(JSON.stringify(d) + '\n');
    return;
  }
  const lines = [d.prototype];
  if (d.module) lines.push(`  module: ${d.module}`);
  if (d.function) lines.push(`  kernel function: ${d.function}`);
  for (const p of d.params) lines.push(`  ${p.name}: ${p.type}${p.note ? `  (${p.note})` : ''}`);
  if (d.returns) lines.push(`  returns: ${d.returns}`);
  process.stdout.write(lines.join('\n') + '\n');
}
