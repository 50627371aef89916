/**
 * What decoding a ring buffer record from its BTF type costs, against a
 * decoder written by hand for the same struct (the reference), run
 * alternately in one process: `node dist/bench/decode.js [records]`.
 * The record is examples/biolatency's `struct slow_io` (a nested struct with
 * a char array, u32s, u64s, an s32), read from dist/examples/.
 */
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import { codecFor } from '../lib/btf/values';
import { ObjectFile } from '../lib/object/parse';
import { fmt, median } from './report';

const N = Number(process.argv[2] ?? 2_000_000);
const ROUNDS = 7;
const DISTINCT = 1024;

const file = ObjectFile.read(path.resolve(__dirname, '..', 'examples', 'biolatency', 'biolatency.bpf.o'));
const codec = codecFor(file.btf, file.findType('struct slow_io')!);
const size = codec.size;
const buf = Buffer.alloc(size * DISTINCT);
for (let i = 0; i < DISTINCT; i++) {
  codec.encode({ proc: { pid: 1000 + i, comm: `proc${i % 7}` }, dev: 0xfe00000, sector: BigInt(i * 8), latency_ns: BigInt(i * 1000), error: 0 }, buf, i * size, 'record');
}

/** The same struct, decoded by hand at its offsets (as a skeleton user would write it). */
function byHand(b: Buffer, at: number): unknown {
  let nul = b.indexOf(0, at + 4);
  if (nul < 0 || nul > at + 20) nul = at + 20;
  return {
    proc: { pid: b.readUInt32LE(at), comm: b.toString('utf8', at + 4, nul) },
    dev: b.readUInt32LE(at + 20),
    sector: b.readBigUInt64LE(at + 24),
    latency_ns: b.readBigUInt64LE(at + 32),
    error: b.readInt32LE(at + 40),
  };
}

function run(decode: (b: Buffer, at: number) => unknown): number {
  let check = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) check += (decode(buf, (i % DISTINCT) * size) as { proc: { pid: number } }).proc.pid;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  if (check === 0) throw new Error('nothing decoded');
  return ns;
}

const contenders: Array<[string, (b: Buffer, at: number) => unknown]> = [
  ['hand-written decoder (reference)', byHand],
  ['BTF codec (codecFor)', (b, at) => codec.decode(b, at)],
];
const times = new Map<string, number[]>(contenders.map(([n]) => [n, []]));
// Both read the same values, or the comparison means nothing.
for (let i = 0; i < DISTINCT; i++) {
  if (!isDeepStrictEqual(byHand(buf, i * size), codec.decode(buf, i * size))) throw new Error(`record ${i} decodes differently`);
}
for (let r = 0; r < ROUNDS; r++) for (const [name, f] of contenders) times.get(name)!.push(run(f));
const ref = median(times.get(contenders[0][0])!);
process.stdout.write(`decode ${fmt(N)} records of ${codec.type} (${size} bytes), ${ROUNDS} rounds alternating, node ${process.version}\n`);
for (const [name] of contenders) {
  const m = median(times.get(name)!);
  process.stdout.write(`  ${name.padEnd(34)} ${fmt(m, 1)} ns/record  ${fmt(m / ref, 2)} x reference\n`);
}
