/**
 * --count, --latency and --hist: summaries the kernel computes, printed every
 * --interval seconds (cumulative) and at the end, as charts or JSON lines;
 * --count --stack counts stacks in the kernel (most common first, or
 * --folded); or, with --serve, served at /metrics for Prometheus until the
 * command ends. A pattern is summarised per function or tracepoint; --by
 * groups histograms by comm or pid; --top keeps the largest rows.
 */
import type { ProbeOptions, Target } from '../attach';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import { renderCounts, renderHistogram } from '../format/chart';
import { countsJson, histogramJson, stackCountsJson } from '../format/json';
import { foldedReport, stackCountsReport } from '../format/stack';
import { CountSnapshot, Counter, Histogram, HistogramSnapshot, StackCounter, StackSnapshot, countBy, countStacks, histogram, latency } from '../summary';
import { bucketSpec } from '../summary/buckets';
import { runUntilDone } from './lifecycle';
import { TraceArgs, bucketOptionsOf } from './options';
import { output } from './output';
import { reportAttached, reportLoad, say } from './report';

/** The largest `top` entries of a count or stack count snapshot, largest first already (all without --top). */
function topCounts<S extends CountSnapshot | StackSnapshot>(snap: S, top?: number): S {
  if (top === undefined) return snap;
  return Object.assign(snap.slice(0, top), { dropped: snap.dropped, total: snap.total }) as S;
}

/** The largest `top` groups of a histogram (all without --top). */
function topGroups(snap: HistogramSnapshot, top?: number): HistogramSnapshot {
  return top === undefined || !snap.groups ? snap : { ...snap, groups: snap.groups.slice(0, top) };
}

/** One chart per group (function of a pattern, comm, pid), or the histogram's own. */
function renderHistograms(h: Histogram, snap: HistogramSnapshot): string[] {
  if (!snap.groups) return [`${h.name} ${h.what}:\n${renderHistogram(snap)}`];
  if (!snap.groups.length) return [`${h.name} ${h.what}:\n${renderHistogram(snap)}`];
  return snap.groups.map((g) => `${g.probe}${g.key !== undefined ? ` ${h.by} ${g.key}` : ''} ${h.what}:\n${renderHistogram(g.snapshot)}`);
}

export async function summarize(argv: TraceArgs, targets: readonly Target[], opts: ProbeOptions, by: string | undefined): Promise<void> {
  const modes = [by !== undefined && '--count', argv.latency && '--latency', argv.hist !== undefined && '--hist'].filter(Boolean);
  if (modes.length > 1) throw new OptionError(`${modes.join(' and ')} do not go together: one summary at a time`);
  if (opts.args) throw new OptionError('--arg does not apply to --count, --latency or --hist: use --count by=<expr> or --hist <expr>');
  if (opts.stack && by === undefined) throw new OptionError('--stack goes with --count (stacks counted in the kernel), not with --latency or --hist');
  if (opts.stack && by && by !== 'comm' && by !== 'pid') throw new OptionError(`--count --stack counts by comm (default) or by=pid, not by=${by}`);
  if (argv.folded && !opts.stack) throw new OptionError('--folded goes with --count --stack: folded stacks with their counts');
  if (argv.maxStacks !== undefined) (await import('../api')).configure({ maxStacks: argv.maxStacks });
  if (argv.pin !== undefined) throw new OptionError('--pin goes with streamed events, not with --count, --latency or --hist');
  if (argv.maxEvents !== undefined) throw new OptionError('-M (--max-events) stops streamed events, not --count, --latency or --hist (use --duration)');
  if (argv.interval !== undefined && !(argv.interval > 0)) throw new OptionError('--interval must be a positive number of seconds');
  const buckets = bucketOptionsOf(argv);
  if (by !== undefined && (buckets.bits !== undefined || buckets.linear !== undefined)) throw new OptionError('--linear and --log-linear shape the buckets of --hist and --latency, not of --count');
  bucketSpec(buckets, { linear: '--linear', bits: '--log-linear' }); // checked in the flags' words
  const group = argv.by;
  if (group !== undefined && by === undefined && group !== 'comm' && group !== 'pid') throw new OptionError(`--by takes comm or pid for histograms, got ${JSON.stringify(group)}`);
  if (argv.serve === undefined && (argv.metric !== undefined || argv.maxSeries !== undefined)) throw new OptionError('--metric and --max-series go with --serve');
  if (argv.serve !== undefined && opts.stack) throw new OptionError('--serve serves an in-kernel summary: --count (without --stack), --latency or --hist');
  if (argv.serve !== undefined && (argv.json || argv.interval !== undefined)) throw new OptionError('--serve serves the summary instead of printing it: no --json or --interval');
  // Checked before anything is attached: bad input costs nothing.
  // Serving (http, zlib, the metrics) loads only for --serve: printing a summary does not pay for it.
  const serving = argv.serve !== undefined ? await import('./serve') : undefined;
  const metrics = serving?.metricsFor(argv);
  const { args: _args, stack: _stack, ...base } = opts;
  const hopts = { ...base, ...(group !== undefined ? { by: group as 'comm' | 'pid' } : {}) };
  const counters: Counter[] = [];
  const hists: Histogram[] = [];
  const stackCounters: StackCounter[] = [];
  try {
    for (const t of targets) {
      if (opts.stack) stackCounters.push(countStacks(t, { ...base, stack: opts.stack, by: (by || 'comm') as 'comm' | 'pid', demangle: argv.demangle }));
      else if (by !== undefined) counters.push(countBy(t, { ...base, ...(by || group ? { by: by || group } : {}) }));
      else if (argv.latency) hists.push(latency(t, { ...hopts, ...buckets }));
      else hists.push(histogram(t, argv.hist as string, { ...hopts, ...buckets }));
    }
  } catch (e) {
    for (const s of [...counters, ...hists, ...stackCounters]) s.close();
    throw e;
  }
  // One mode at a time (checked above): the summaries are in the targets' order.
  const all = [...counters, ...hists, ...stackCounters];
  for (const [i, s] of all.entries()) {
    const t = targets[i];
    const main = s.probes[s.probes.length - 1];
    for (const p of s.probes) if (p !== main) for (const w of p.warnings) say(`warning: ${w}`);
    reportAttached(t, main, argv.explain || argv.verbose);
  }
  if (argv.verbose) reportLoad(all.flatMap((s) => s.probes), opts.excludeSelf === true);
  // --serve with --stack was refused above: served summaries are counts and histograms.
  if (serving && metrics) return serving.serveSummaries(argv, [...counters, ...hists], metrics);

  let dropsReported = 0;
  const print = () => {
    const now = new Date();
    const snaps = counters.map((c) => ({ c, snap: topCounts(c.snapshot(), argv.top) }));
    const hsnaps = hists.map((h) => ({ h, snap: topGroups(h.snapshot(), argv.top) }));
    const ssnaps = stackCounters.map((c) => ({ c, snap: topCounts(c.snapshot(), argv.top) }));
    if (argv.folded) {
      output().write(ssnaps.map(({ snap }) => foldedReport(snap)).join(''));
    } else if (argv.json) {
      const lines = [
        ...snaps.map(({ c, snap }) => countsJson(now, c.name, c.by, snap)),
        ...hsnaps.map(({ h, snap }) => histogramJson(now, h.name, h.what, snap)),
        ...ssnaps.map(({ c, snap }) => stackCountsJson(now, c.name, c.by, snap)),
      ];
      output().write(lines.join('\n') + '\n');
    } else {
      const parts: string[] = [];
      if (argv.interval !== undefined) parts.push(`[${now.toTimeString().slice(0, 8)}]\n`);
      if (counters.length) {
        const rows = snaps.flatMap(({ c, snap }) => snap.map((e) => ({ probe: e.probe ?? c.name, label: c.by === 'probe' ? undefined : e.label, count: e.count })));
        const column = counters.find((c) => c.by !== 'probe')?.by;
        const table = renderCounts(rows, column);
        parts.push(argv.top === undefined ? table : table.split('\n').slice(0, argv.top + 1).join('\n') + '\n');
      }
      parts.push(...hsnaps.flatMap(({ h, snap }) => renderHistograms(h, snap)));
      parts.push(...ssnaps.map(({ c, snap }) => stackCountsReport(c.name, snap, { explain: argv.explain })));
      output().write(parts.join('\n'));
    }
    const dropped = all.reduce((n, s) => n + s.dropped, 0);
    if (dropped > dropsReported) {
      say(`${dropped - dropsReported} hits not counted: the count map is full (raise --max-counts)`);
      dropsReported = dropped;
    }
  };

  const timer = argv.interval !== undefined ? setInterval(print, argv.interval * 1000) : undefined;
  runUntilDone({
    duration: argv.duration,
    command: argv.c,
    exitWithCommand: argv.exitWithCommand,
    finish: () => {
      clearInterval(timer);
      // Closing detaches and keeps the final reading: what is printed is final.
      // The process ends here: the kernel may finish detaching after it.
      Session.get().detachInBackground();
      for (const s of all) s.close();
      print();
      const events = [...counters, ...hists, ...stackCounters].reduce((n, s) => n + s.snapshot().total, 0);
      say(`${events} events, ${all.reduce((n, s) => n + s.dropped, 0)} lost`);
    },
  });
  if (argv.c === undefined && !argv.json && process.stderr.isTTY) {
    const what = opts.stack ? 'Counting stacks' : by !== undefined ? `Counting${by ? ` by ${by}` : ''}` : argv.latency ? 'Timing' : `Histogram of ${argv.hist}`;
    process.stderr.write(`${what}: ${all.map((s) => s.name).join(', ')}... Ctrl-C to end.\n`);
  }
}

