/**
 * Run by test/host/tracepoint.test.ts as a plain `node` process (jest's
 * sandbox lacks Symbol.asyncDispose on Node 20): `await using` a probe, and
 * report what the kernel and the probe say inside and after the block.
 */
import { attachTracepoint } from '../../lib';
import { Session } from '../../lib/core/session';
import { linksOfProgram } from './bpf';

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  let kept;
  {
    await using probe = attachTracepoint(process.argv[2] ?? 'syscalls:sys_enter_syncfs');
    kept = probe;
    out.prog = Session.get().info().tracepointProgram;
    out.linksInside = linksOfProgram(out.prog as number).length;
    out.closedInside = probe.closed;
    probe.on('close', () => (out.closeEvents = ((out.closeEvents as number) ?? 0) + 1));
  }
  out.closedAfter = kept.closed;
  out.linksAfter = linksOfProgram(out.prog as number).length;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
