/**
 * kprobe-node counting in the kernel as a benchmark contender: every
 * getppid(2) is counted by comm in a BPF map; nothing reaches JavaScript.
 *
 *   node dist/bench/counter.js [--cgroup <dir>]
 *
 * Prints "ready" once attached, then on SIGINT/SIGTERM one line:
 *   done counted <hits of the busiest comm>
 */
import { countBy } from '../lib/index';

// --cgroup: only the tasks of that cgroup (bench/containers.ts measures what the filter costs).
const cgroup = process.argv[2] === '--cgroup' ? process.argv[3] : undefined;
const counter = countBy('syscall:getppid', { by: 'comm', ...(cgroup !== undefined ? { cgroup } : {}) });

function finish(): void {
  const top = counter.snapshot()[0];
  counter.close();
  process.stdout.write(`done counted ${top ? top.count : 0}\n`, () => process.exit(0));
}

process.on('SIGINT', finish);
process.on('SIGTERM', finish);
process.stdout.write('ready\n');
