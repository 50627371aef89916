/**
 * What a scrape of in-kernel summaries costs, measured in one process
 * (bench/run.ts runs it: `node --expose-gc dist/bench/scraper.js <map_read> <keys> <rounds>`):
 *
 *   - the same number of series behind few events and behind many: two
 *     counters of pread64 by position, on two fds, each with <keys> keys, one
 *     hit per key on the first fd and 100 on the second; their expositions
 *     are timed alternately;
 *   - reading the count map in batches (as the addon does) against one key
 *     at a time: bench/c/map_read on the same map, alternately;
 *   - memory: the heap after many scrapes of a metric whose keys exceed its
 *     series bound, against the heap after a few.
 *
 * Prints one line of JSON.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { MetricSet, configure, countBy } from '../lib/index';

const [mapRead, keysArg, roundsArg] = process.argv.slice(2);
const KEYS = Number(keysArg);
const ROUNDS = Number(roundsArg);
const MANY = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** The id of this process's count map (a hash of 24-byte keys and u64 values), from its fds. */
function countMapId(): number {
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let info = '';
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (/^map_type:\s*1$/m.test(info) && /^key_size:\s*24$/m.test(info) && /^value_size:\s*8$/m.test(info)) {
      return Number(/^map_id:\s*(\d+)$/m.exec(info)?.[1]);
    }
  }
  throw new Error('no count map among this process\'s fds');
}

function heapMb(): number {
  (global as unknown as { gc: () => void }).gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function main(): void {
  configure({ maxCounts: 4 * KEYS });
  const few = fs.openSync('/dev/zero', 'r');
  const many = fs.openSync('/dev/zero', 'r');
  const byPos = (fd: number) => countBy('syscall:pread64', { by: 'pos', pid: process.pid, filter: `fd == ${fd}` });
  const fewCounter = byPos(few);
  const manyCounter = byPos(many);
  const buf = Buffer.alloc(1);
  for (let k = 0; k < KEYS; k++) fs.readSync(few, buf, 0, 1, k);
  for (let i = 0; i < MANY; i++) for (let k = 0; k < KEYS; k++) fs.readSync(many, buf, 0, 1, k);
  const fewSet = new MetricSet({ maxSeries: KEYS }).add(fewCounter, { name: 'few' });
  const manySet = new MetricSet({ maxSeries: KEYS }).add(manyCounter, { name: 'many' });
  const fewTotal = fewCounter.snapshot().total;
  const manyTotal = manyCounter.snapshot().total;
  if (fewTotal !== KEYS || manyTotal !== KEYS * MANY) throw new Error(`counted ${fewTotal} and ${manyTotal}, not ${KEYS} and ${KEYS * MANY}`);

  const fewMs: number[] = [];
  const manyMs: number[] = [];
  let bytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [set, out] of r % 2 ? ([[manySet, manyMs], [fewSet, fewMs]] as const) : ([[fewSet, fewMs], [manySet, manyMs]] as const)) {
      const t = process.hrtime.bigint();
      bytes = set.exposition().length;
      out.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }

  const read = execFileSync(mapRead, [String(countMapId()), String(ROUNDS)], { encoding: 'utf8' });
  const m = /entries (\d+) per_key_ns (\d+) batch_ns (\d+)/.exec(read);
  if (!m) throw new Error(`map_read said: ${read}`);

  // Memory: a metric bounded to 1,000 series over all 2 x KEYS keys, scraped again and again.
  const bounded = new MetricSet({ maxSeries: 1000 }).add(fewCounter, { name: 'bounded' }).add(manyCounter, { name: 'bounded', constLabels: { fd: 'many' } });
  for (let i = 0; i < 30; i++) bounded.exposition();
  const heapAfterFew = heapMb();
  for (let i = 0; i < 300; i++) bounded.exposition();
  const heapAfterMany = heapMb();
  const series = bounded.families()[0];

  process.stdout.write(
    JSON.stringify({
      keys: KEYS,
      events: { few: fewTotal, many: manyTotal },
      scrapeMs: { few: median(fewMs), many: median(manyMs), fewAll: fewMs, manyAll: manyMs },
      expositionBytes: bytes,
      mapRead: { entries: Number(m[1]), perKeyNs: Number(m[2]), batchNs: Number(m[3]) },
      heapMb: { after30: heapAfterFew, after330: heapAfterMany },
      boundedSeries: series.type === 'counter' ? series.series.length : 0,
    }) + '\n',
  );
  fewCounter.close();
  manyCounter.close();
}

main();
