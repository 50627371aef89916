/**
 * Run by test/host/aggregate.test.ts as its own process, because the count
 * map's size is fixed when a process first loads the BPF object:
 *
 *   node aggregate-child.js <configure|env> <workload> <processes>
 *
 * counts getppid by pid over `processes` short-lived workload children and
 * prints { entries, counted, dropped, closedAfterBlock } as JSON (the counter
 * is held with `await using`). `configure` sizes the map
 * with configure({ maxCounts: 16 }); `env` leaves it to KPROBE_NODE_MAX_COUNTS.
 */
import { spawn } from 'child_process';
import { configure, countBy } from '../../lib';

async function main(): Promise<void> {
  const [how, workload, processes] = process.argv.slice(2);
  if (how === 'configure') configure({ maxCounts: 16 });
  let kept;
  let snap;
  {
    // Leaving the block closes the counter (and detaches its probe).
    await using counter = countBy('syscall:getppid', { by: 'pid', comm: 'kn_agg' });
    kept = counter;
    // One parent forks the children: each calls getppid once and exits.
    await new Promise<void>((resolve, reject) => {
      const child = spawn(workload, ['fork', processes], { stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kn_agg fork exited ${code}`))));
    });
    snap = counter.snapshot();
  }
  const out = { entries: snap.length, counted: snap.total, dropped: snap.dropped, closedAfterBlock: kept.closed };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
