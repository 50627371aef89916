/**
 * Run by test/host/burst.test.ts in its own node process (the ring size is
 * read from KPROBE_NODE_RING_BYTES when the session is created): traces
 * syscalls:sys_enter_getppid for one kn_workload that calls getppid N times,
 * and prints what arrived as one JSON line.
 */
import { attachTracepoint } from '../../lib';
import { Workload } from './workload';

async function main(): Promise<void> {
  const n = Number(process.argv[2]);
  const w = new Workload(['getppid', String(n)]);
  const pid = await w.ready();
  const probe = attachTracepoint('syscalls:sys_enter_getppid', { pid });
  let counted = 0;
  let otherPids = 0;
  let lostEvents = 0;
  probe.on('event', (ev) => {
    counted++;
    if (ev.pid !== pid) otherPids++;
  });
  probe.on('lost', (k: number) => (lostEvents += k));
  const start = process.hrtime.bigint();
  await w.go();
  // The workload is gone, so every record is in the ring or counted lost: close() delivers the rest.
  probe.close();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(JSON.stringify({ n, pid, seen: probe.seen, counted, otherPids, lost: probe.lost, lostEvents, ms }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
