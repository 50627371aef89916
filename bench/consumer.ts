/**
 * kprobe-node as a benchmark contender: streams every getppid(2) to a
 * JavaScript listener that reads each event's pid.
 *
 *   node dist/bench/consumer.js [target_pid expect]
 *
 * Prints "ready" once attached. Exits when `expect` events of `target_pid`
 * were delivered, or on SIGINT/SIGTERM, printing one line:
 *   done seen <all events> target <events of target_pid> lost <n> last_ns <CLOCK_MONOTONIC>
 * (the same line bench/c/consumer.c prints).
 */
import { attachSyscall } from '../lib/index';

const targetPid = Number(process.argv[2] ?? 0);
const expect = Number(process.argv[3] ?? 0);

let sum = 0;
let seen = 0;
let target = 0;
let lastNs = 0n;
let lost = 0;

const probe = attachSyscall('getppid');
probe.on('lost', (n: number) => {
  lost += n;
});

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  probe.close(); // delivers what is still in the ring, reports late losses
  lost = Math.max(lost, probe.lost);
  process.stdout.write(`done seen ${seen} target ${target} lost ${lost} last_ns ${lastNs} sum ${sum}\n`, () => process.exit(0));
}

probe.on('event', (ev) => {
  sum += ev.pid;
  seen++;
  if (ev.pid === targetPid) {
    target++;
    lastNs = process.hrtime.bigint();
    if (expect && target >= expect) setImmediate(finish);
  }
});

process.on('SIGINT', finish);
process.on('SIGTERM', finish);
process.stdout.write('ready\n');
