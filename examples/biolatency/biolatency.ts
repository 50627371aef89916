/**
 * Block I/O latency by process, with a BPF program of our own
 * (biolatency.bpf.c, compiled by `make` into dist/examples/): a log2
 * histogram per process that issued requests, read from a BPF map, and each
 * request slower than --slow-ms as it completes, from a ring buffer.
 *
 *   sudo node dist/examples/biolatency/biolatency.js [--slow-ms N] [--duration S] [-c COMMAND]
 *
 * Its typings (biolatency.bpf.d.ts) are generated from the object:
 *   kprobe-node types dist/examples/biolatency/biolatency.bpf.o -o examples/biolatency/biolatency.bpf.d.ts
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { parseArgs } from 'util';
import { openObject } from 'kprobe-node';
import type { BiolatencySpec, struct_hist, struct_proc } from './biolatency.bpf';

const { values } = parseArgs({
  options: {
    'slow-ms': { type: 'string' },
    duration: { type: 'string' },
    c: { type: 'string' },
  },
});
const slowMs = Number(values['slow-ms'] ?? 0);

const obj = openObject<BiolatencySpec>(path.join(__dirname, 'biolatency.bpf.o'), {
  rodata: { slow_ns: BigInt(Math.round(slowMs * 1e6)) },
}).load();
obj.attachAll();

if (slowMs > 0) {
  const slow = obj.ringBuffer('slow', 'struct slow_io', { lost: 'dropped' });
  slow.on('event', (io) => {
    const dev = `${io.dev >> 20},${io.dev & 0xfffff}`;
    console.log(`slow: ${io.proc.comm} ${io.proc.pid} dev ${dev} sector ${io.sector} ${(Number(io.latency_ns) / 1e6).toFixed(1)} ms`);
  });
  slow.on('lost', (n) => console.log(`slow: ${n} more not reported (ring buffer full)`));
}

/** `[64us, 128us)`, `[2ms, 4ms)`: slot i holds latencies of 2^i to 2^(i+1) microseconds (slot 0: under 2). */
function range(slot: number): string {
  const us = (n: number) => (n >= 1e6 ? `${n / 1e6}s` : n >= 1000 ? `${n / 1000}ms` : `${n}us`);
  return slot === 0 ? '[0, 2us)' : `[${us(2 ** slot)}, ${us(2 ** (slot + 1))})`;
}

function report(): void {
  const rows: Array<[struct_proc, struct_hist]> = obj.maps.latency.entries();
  rows.sort((a, b) => Number(b[1].count - a[1].count));
  for (const [proc, h] of rows) {
    const mean = Number(h.total_ns / h.count) / 1000;
    console.log(`${proc.comm} (pid ${proc.pid}): ${h.count} I/Os, mean ${mean.toFixed(0)} us`);
    const max = h.slots.reduce((m, n) => (n > m ? n : m), 0n);
    h.slots.forEach((n, slot) => {
      if (n === 0n) return;
      const bar = '@'.repeat(Math.max(1, Math.round((Number(n) / Number(max)) * 30)));
      console.log(`  ${range(slot).padEnd(16)} ${String(n).padStart(6)} |${bar}`);
    });
  }
  if (obj.globals.untracked > 0n) console.log(`(${obj.globals.untracked} requests not tracked: a map was full)`);
}

function finish(): void {
  report();
  obj.close();
  process.exit(0);
}

process.on('SIGINT', finish);
if (values.duration !== undefined) setTimeout(finish, Number(values.duration) * 1000);
if (values.c !== undefined) {
  spawn('/bin/sh', ['-c', values.c], { stdio: 'inherit' }).on('exit', () => setTimeout(finish, 100));
} else if (values.duration === undefined) {
  console.error('tracing block I/O; Ctrl-C to report');
  setInterval(() => undefined, 1 << 30);
}
