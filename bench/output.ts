/**
 * The CLI's output path alone, without a kernel or a producer in the way:
 * ring records formatted as the CLI prints them (lib/format/text.ts,
 * lib/format/json.ts) and written through its LineWriter to a file, as with
 * -o. bench/c/print_lines.c does the same in C with stdio, from the same
 * records: the limit.
 *
 *   node dist/bench/output.js make RECORDS         writes the records
 *   node dist/bench/output.js text|json RECORDS OUT LINES
 *
 * OUT is a file, written as with -o, or - for stdout (a pipe, as in
 * `kprobe-node ... | consumer`). The records are a getppid flood's: one
 * thread, its real cgroup, 1.7 µs apart. Prints "lines <n> ns <elapsed>"
 * (to stderr when OUT is -).
 */
import * as fs from 'fs';
import { flushOutput, LineWriter, openOutput, output } from '../lib/cli/output';
import { RecordDecoder } from '../lib/core/decode';
import { EventBatch, RING_HEADER } from '../lib/core/event';
import { jsonLine } from '../lib/format/json';
import { textLine } from '../lib/format/text';
import { layout } from '../lib/sys/abi';
import { cgroup2Mount } from '../lib/sys/cgroups';

const R = layout.record;
const RECORDS = 16384;
const SIZE = R.size; // a probe without arguments
const STRIDE = RING_HEADER + ((SIZE + 7) & ~7);

function make(file: string): void {
  const buf = Buffer.alloc(RECORDS * STRIDE);
  const start = process.hrtime.bigint();
  const cgroup = BigInt(fs.statSync(cgroup2Mount().dir).ino);
  for (let i = 0; i < RECORDS; i++) {
    const at = i * STRIDE + RING_HEADER;
    buf.writeUInt32LE(SIZE, at - RING_HEADER);
    buf.writeUInt32LE(SIZE, at + R.size_);
    buf.writeUInt32LE(1, at + R.probe_id);
    buf.writeBigUInt64LE(start + BigInt(i) * 1700n, at + R.ns);
    for (const f of [R.pid, R.tid, R.host_pid, R.host_tid]) buf.writeUInt32LE(process.pid, at + f);
    buf.writeUInt16LE(0, at + R.cpu);
    buf.write('getppid_loop', at + R.comm, 'latin1');
    buf.writeBigUInt64LE(cgroup, at + R.cgroup_id);
  }
  fs.writeFileSync(file, buf);
}

/**
 * Formats `lines` lines as the CLI does: a batch of records per turn of the
 * event loop, and none while the output holds the reading (a pipe that is
 * full).
 */
function run(mode: 'text' | 'json', file: string, out: string, lines: number): void {
  const buf = fs.readFileSync(file);
  const offsets = new Int32Array(buf.length / STRIDE).map((_, i) => i * STRIDE + RING_HEADER);
  const decoder = new RecordDecoder('tracepoint:syscalls:sys_enter_getppid', []);
  const batch = new EventBatch(buf, offsets, Array.from(offsets, () => decoder));
  if (out !== '-') openOutput(out);
  let held = false;
  let n = 0;
  const writer = new LineWriter(output(), (h) => {
    held = h;
    if (!h) setImmediate(step);
  });
  const t0 = process.hrtime.bigint();
  function step(): void {
    if (n === lines) return; // finished: a late hold(false)
    for (let i = 0; i < batch.length && n < lines; i++, n++) {
      if (mode === 'json') jsonLine(writer, batch, i);
      else writer.write(textLine(batch, i));
    }
    if (n < lines) {
      if (!held) setImmediate(step);
      return;
    }
    writer.flush();
    flushOutput(() => (out === '-' ? process.stderr : process.stdout).write(`lines ${n} ns ${process.hrtime.bigint() - t0}\n`));
  }
  step();
}

const [mode, file, out, lines] = process.argv.slice(2);
if (mode === 'make') make(file);
else if ((mode === 'text' || mode === 'json') && out && Number(lines) > 0) run(mode, file, out, Number(lines));
else {
  process.stderr.write('usage: output.js make RECORDS | output.js text|json RECORDS OUT LINES\n');
  process.exit(2);
}
