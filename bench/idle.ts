/**
 * A process that sits idle: with --probe, one attached probe that sees no
 * events (a syscall nobody makes here); without, a plain node process that
 * only keeps its event loop alive. The benchmark reads its CPU time from
 * outside (/proc/<pid>/task/<tid>/schedstat, every thread).
 *
 *   node dist/bench/idle.js [--probe]
 *
 * Prints "ready" once attached; runs until SIGINT/SIGTERM.
 */
import { attachSyscall } from '../lib/index';

if (process.argv.includes('--probe')) {
  // No process calls it during the benchmark: the probe is attached and idle.
  const probe = attachSyscall('pivot_root');
  probe.on('event', () => undefined);
  process.on('SIGTERM', () => {
    probe.close();
    process.exit(0);
  });
} else {
  setInterval(() => undefined, 1 << 30);
  process.on('SIGTERM', () => process.exit(0));
}
process.on('SIGINT', () => process.exit(0));
process.stdout.write('ready\n');
