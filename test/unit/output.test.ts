/**
 * The CLI's output path without a kernel: JSON lines made from a batch (each
 * record's own fields, exact timestamps and integers, quoting), the LineWriter (order,
 * UTF-8, long lines, a slow output holding the reading and every byte kept),
 * and loss messages at most once a second.
 */
import { Writable } from 'stream';
import { ArgPlan, RecordDecoder } from '../../lib/core/decode';
import { EventBatch, RING_HEADER } from '../../lib/core/event';
import { jsonLine } from '../../lib/format/json';
import { LineWriter } from '../../lib/cli/output';
import { LossReport } from '../../lib/cli/report';
import { Source, Store, layout } from '../../lib/sys/abi';

const R = layout.record;
const plan: ArgPlan = { name: 'fd', type: 'int', fetch: { source: Source.Reg, reg: 0, steps: [], store: Store.Value, size: 4, signed: true }, kind: 'i32' };

interface Rec {
  ns: bigint;
  pid: number;
  hostPid?: number;
  comm: string;
  fd: number;
}

/** A batch of records as the ring hands them over: each behind its 8-byte header. */
function batchOf(recs: Rec[], decoder: RecordDecoder): EventBatch {
  const size = R.size + 8;
  const buf = Buffer.alloc(recs.length * (RING_HEADER + size));
  const offsets = new Int32Array(recs.length);
  recs.forEach((r, i) => {
    const h = i * (RING_HEADER + size);
    buf.writeUInt32LE(size, h);
    const at = h + RING_HEADER;
    offsets[i] = at;
    buf.writeBigUInt64LE(r.ns, at + R.ns);
    buf.writeUInt32LE(r.pid, at + R.pid);
    buf.writeUInt32LE(r.pid, at + R.tid);
    buf.writeUInt32LE(r.hostPid ?? r.pid, at + R.host_pid);
    buf.writeUInt32LE(r.hostPid ?? r.pid, at + R.host_tid);
    buf.writeUInt32LE(1000, at + R.uid);
    buf.writeUInt16LE(1, at + R.cpu);
    buf.write(r.comm, at + R.comm, 'latin1');
    buf.writeInt32LE(r.fd, at + R.size);
  });
  return new EventBatch(buf, offsets, recs.map(() => decoder));
}

/** Each record of a batch as the CLI prints it with --json, parsed back. */
function jsonLines(b: EventBatch): Array<Record<string, any>> {
  const chunks: Buffer[] = [];
  const w = new LineWriter(new Writable({ write: (c: Buffer, _e, done) => (chunks.push(Buffer.from(c)), done()) }));
  for (let i = 0; i < b.length; i++) jsonLine(w, b, i);
  w.flush();
  return Buffer.concat(chunks).toString('utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l));
}

describe('jsonLine', () => {
  const decoder = new RecordDecoder('tracepoint:syscalls:sys_enter_close', [plan]);

  test('each record has its own task fields, also when a thread repeats around another', () => {
    const recs: Rec[] = [
      { ns: 5_000_000_001n, pid: 10, comm: 'a', fd: 3 },
      { ns: 5_000_000_002n, pid: 10, comm: 'a', fd: 4 },
      { ns: 5_000_000_003n, pid: 20, hostPid: 30, comm: 'b', fd: 5 },
      { ns: 5_000_000_004n, pid: 10, comm: 'a', fd: 6 },
    ];
    const b = batchOf(recs, decoder);
    const lines = jsonLines(b);
    expect(lines.map((l) => [l.pid, l.tid, l.comm, l.hostPid, l.args.fd])).toEqual([
      [10, 10, 'a', undefined, 3],
      [10, 10, 'a', undefined, 4],
      [20, 20, 'b', 30, 5],
      [10, 10, 'a', undefined, 6],
    ]);
    expect(lines[2].hostTid).toBe(30);
    expect(lines[0].probe).toBe('tracepoint:syscalls:sys_enter_close');
  });

  test('timestamps are exact at every digit, beyond 2^53 too', () => {
    const values = [0n, 7n, 10n, 99n, 100n, 999_999_999n, 1_000_000_000n, 1_000_000_001n, 1_000_000_010n, 123_456_789_012_345n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];
    const b = batchOf(values.map((ns) => ({ ns, pid: 1, comm: 'x', fd: 0 })), decoder);
    expect(jsonLines(b).map((l) => l.ns)).toEqual(values.map(String));
  });

  test('lines that cross from one chunk to the next stay whole', () => {
    const recs = Array.from({ length: 3000 }, (_, i): Rec => ({ ns: 10n ** 12n + BigInt(i), pid: 100 + (i % 7), comm: `c${i % 3}`, fd: i }));
    const lines = jsonLines(batchOf(recs, decoder));
    expect(lines.map((l) => [l.ns, l.pid, l.comm, l.args.fd])).toEqual(recs.map((r) => [String(r.ns), r.pid, r.comm, r.fd]));
  });

  test('names that need escaping are quoted as JSON', () => {
    const b = batchOf([{ ns: 1n, pid: 1, comm: 'a"b\\c', fd: 0 }], new RecordDecoder('kprobe:we"ird', [plan]));
    const [l] = jsonLines(b);
    expect([l.comm, l.probe]).toEqual(['a"b\\c', 'kprobe:we"ird']);
  });
});

/** Where two texts first differ (-1: nowhere), to keep a failure's report short. */
function firstDifference(a: string, b: string): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A stream that takes each chunk only after `delayMs`, as a pipe with a slow reader does. */
function slowStream(delayMs: number): Writable & { chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      setTimeout(done, delayMs);
    },
  });
  return Object.assign(w, { chunks });
}

describe('LineWriter', () => {
  test('lines arrive whole, in order, as UTF-8, in few writes; one longer than a chunk too', async () => {
    const out = slowStream(0);
    const w = new LineWriter(out);
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} héllo ✓ ${'x'.repeat(i % 97)}`);
    lines.splice(2500, 0, 'é'.repeat(100_000));
    for (const l of lines) w.write(l);
    await new Promise((r) => setImmediate(r));
    w.flush();
    await new Promise<void>((r) => out.end(r));
    expect(firstDifference(Buffer.concat(out.chunks).toString('utf8'), lines.join('\n') + '\n')).toBe(-1);
    expect(out.chunks.length).toBeLessThan(lines.length / 50);
  });

  test('an output that cannot keep up holds the reading until it has drained, and no byte is lost or overwritten', async () => {
    const out = slowStream(5);
    const holds: boolean[] = [];
    const w = new LineWriter(out, (held) => holds.push(held));
    const lines = Array.from({ length: 20000 }, (_, i) => `event ${i} ${'y'.repeat(i % 50)}`);
    for (const l of lines) w.write(l);
    w.flush();
    expect(holds).toEqual([true]);
    await new Promise<void>((r) => out.once('drain', () => setImmediate(r)));
    expect(holds).toEqual([true, false]);
    await new Promise<void>((r) => out.end(r));
    expect(firstDifference(Buffer.concat(out.chunks).toString('utf8'), lines.join('\n') + '\n')).toBe(-1);
  });
});

describe('LossReport', () => {
  afterEach(() => jest.useRealTimers());

  test('says the first loss at once, then at most once a second what was lost since, and the rest at the end', () => {
    jest.useFakeTimers();
    const said: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => said.push(String(s)) > 0);
    try {
      const r = new LossReport((n) => `${n} lost`);
      r.add(5);
      r.add(3);
      r.add(2);
      expect(said).toEqual(['kprobe-node: 5 lost\n']);
      jest.advanceTimersByTime(1000);
      expect(said).toEqual(['kprobe-node: 5 lost\n', 'kprobe-node: 5 lost\n']);
      r.add(7);
      r.end();
      expect(said.slice(2)).toEqual(['kprobe-node: 7 lost\n']);
      r.end();
      expect(said).toHaveLength(3);
    } finally {
      spy.mockRestore();
    }
  });
});
