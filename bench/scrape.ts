/**
 * The scrape benchmark (bench/run.ts, `--only=scrape`): runs bench/scraper.ts
 * as root in a process of its own and turns what it measured into rows and
 * verdicts. The claims it checks, each as a ratio measured side by side:
 *
 *   - a scrape costs the same whatever the number of events behind the
 *     series (nothing is streamed; the kernel's counts are read when asked);
 *   - reading the count map in batches beats reading it one key at a time;
 *   - scraping again and again, with more keys than the series bound, keeps
 *     memory flat.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { Row, Verdict, fmt, log, spread } from './report';

export interface ScrapeContext {
  rows: Row[];
  verdicts: Verdict[];
  quick: boolean;
  /** The repo: bench/c lives there. */
  root: string;
  /** The snapshot of the build under test: dist/ lives there. */
  snap: string;
  /** .cache/bench: the C helper is built here. */
  cache: string;
}

interface Measured {
  keys: number;
  events: { few: number; many: number };
  scrapeMs: { few: number; many: number; fewAll: number[]; manyAll: number[] };
  expositionBytes: number;
  mapRead: { entries: number; perKeyNs: number; batchNs: number };
  heapMb: { after30: number; after330: number };
  boundedSeries: number;
}

export async function scrapeBench(ctx: ScrapeContext): Promise<void> {
  const mapRead = path.join(ctx.cache, 'map_read');
  const cc = 'gcc';
  execFileSync(cc, ['-O2', '-Wall', `-I${path.join(ctx.root, 'bench', 'c')}`, '-o', mapRead, path.join(ctx.root, 'bench', 'c', 'map_read.c'), '-lbpf', '-lelf', '-lz'], { stdio: 'inherit' });
  const keys = ctx.quick ? 1000 : 2000;
  const rounds = ctx.quick ? 21 : 41;
  log(`scrape: ${fmt(keys)} series behind ${fmt(keys)} and ${fmt(keys * 100)} events, ${rounds} rounds`);
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(ctx.snap, 'dist', 'bench', 'scraper.js'), mapRead, String(keys), String(rounds)], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const m = JSON.parse(out) as Measured;

  const bench = `scrape: ${fmt(m.keys)} counter series (ms per exposition)`;
  ctx.rows.push({ bench, contender: `behind ${fmt(m.events.few)} events`, median: fmt(m.scrapeMs.few, 2), spread: spread(m.scrapeMs.fewAll, 2), note: `${fmt(m.expositionBytes)} bytes` });
  ctx.rows.push({ bench, contender: `behind ${fmt(m.events.many)} events`, median: fmt(m.scrapeMs.many, 2), spread: spread(m.scrapeMs.manyAll, 2) });
  const eventRatio = m.scrapeMs.many / m.scrapeMs.few;
  ctx.verdicts.push({
    what: `scrape: time with ${fmt(m.events.many / m.events.few)}x the events / time with 1x (same ${fmt(m.keys)} series)`,
    value: fmt(eventRatio, 2),
    target: '≤ 1.25',
    pass: eventRatio <= 1.25,
  });

  const readBench = `reading the count map (${fmt(m.mapRead.entries)} entries, ms)`;
  ctx.rows.push({ bench: readBench, contender: 'one key at a time (get_next_key + lookup)', median: fmt(m.mapRead.perKeyNs / 1e6, 2), spread: '' });
  ctx.rows.push({ bench: readBench, contender: 'batch lookups (as the addon reads it)', median: fmt(m.mapRead.batchNs / 1e6, 2), spread: '' });
  const readRatio = m.mapRead.batchNs / m.mapRead.perKeyNs;
  ctx.verdicts.push({ what: 'scrape: count map read in batches / one key at a time', value: fmt(readRatio, 3), target: '≤ 0.50', pass: readRatio <= 0.5 });

  const heapRatio = m.heapMb.after330 / m.heapMb.after30;
  ctx.rows.push({
    bench: `heap (MB) of a metric bounded to 1,000 series over ${fmt(2 * m.keys)} keys`,
    contender: 'after 30 scrapes / after 330',
    median: `${fmt(m.heapMb.after30, 1)} / ${fmt(m.heapMb.after330, 1)}`,
    spread: '',
    note: `${fmt(m.boundedSeries)} series exposed (1,000 and one "other" per summary)`,
  });
  ctx.verdicts.push({ what: 'scrape: heap after 330 scrapes / after 30 (keys beyond the series bound)', value: fmt(heapRatio, 2), target: '≤ 1.10', pass: heapRatio <= 1.1 });
}
