/**
 * `list [pattern]` and `info <target>`: what can be traced, and what a
 * target's arguments are, without attaching anything.
 */
import { describeTarget } from '../inspect/describe';
import { listProbes } from '../inspect/list';

export function list(argv: { pattern?: string; json: boolean }): void {
  const rows = listProbes(argv.pattern);
  const text = argv.json
    ? rows.map((r) => JSON.stringify(r)).join('\n')
    : rows.map((r) => (r.module ? `${r.target} [${r.module}]` : r.target)).join('\n');
  process.stdout.write(text + (rows.length ? '\n' : ''));
  if (!rows.length && argv.pattern !== undefined) process.stderr.write(`kprobe-node: nothing matches ${argv.pattern}\n`);
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
