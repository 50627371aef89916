/**
 * --count, --latency and --hist: summaries the kernel computes, printed every
 * --interval seconds (cumulative) and at the end, as charts or JSON lines;
 * or, with --serve, served at /metrics for Prometheus until the command ends.
 */
import type { ProbeOptions, Target } from '../attach';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import { renderCounts, renderHistogram } from '../format/chart';
import { countsJson, histogramJson } from '../format/json';
import { Counter, Histogram, countBy, histogram, latency } from '../summary';
import { runUntilDone } from './lifecycle';
import type { TraceArgs } from './options';
import { say } from './report';

export async function summarize(argv: TraceArgs, targets: readonly Target[], opts: ProbeOptions, by: string | undefined): Promise<void> {
  const modes = [by !== undefined && '--count', argv.latency && '--latency', argv.hist !== undefined && '--hist'].filter(Boolean);
  if (modes.length > 1) throw new OptionError(`${modes.join(' and ')} do not go together: one summary at a time`);
  if (opts.args) throw new OptionError('--arg does not apply to --count, --latency or --hist: use --count by=<expr> or --hist <expr>');
  if (opts.stack) throw new OptionError('--stack goes with --count (stacks are counted from events), not with --latency or --hist');
  if (argv.pin !== undefined) throw new OptionError('--pin goes with streamed events, not with --count, --latency or --hist');
  if (argv.interval !== undefined && !(argv.interval > 0)) throw new OptionError('--interval must be a positive number of seconds');
  if (argv.serve === undefined && (argv.metric !== undefined || argv.maxSeries !== undefined)) throw new OptionError('--metric and --max-series go with --serve');
  if (argv.serve !== undefined && (argv.json || argv.interval !== undefined)) throw new OptionError('--serve serves the summary instead of printing it: no --json or --interval');
  // Checked before anything is attached: bad input costs nothing.
  // Serving (http, zlib, the metrics) loads only for --serve: printing a summary does not pay for it.
  const serving = argv.serve !== undefined ? await import('./serve') : undefined;
  const metrics = serving?.metricsFor(argv);
  if (argv.maxCounts !== undefined) (await import('../api')).configure({ maxCounts: argv.maxCounts });
  const { args: _args, stack: _stack, ...base } = opts;
  const counters: Counter[] = [];
  const hists: Histogram[] = [];
  try {
    for (const t of targets) {
      if (by !== undefined) counters.push(countBy(t, { ...base, by }));
      else if (argv.latency) hists.push(latency(t, base));
      else hists.push(histogram(t, argv.hist as string, base));
    }
  } catch (e) {
    for (const s of [...counters, ...hists]) s.close();
    throw e;
  }
  const all = [...counters, ...hists];
  for (const s of all) for (const p of s.probes) for (const w of p.warnings) say(`warning: ${w}`);
  if (serving && metrics) return serving.serveSummaries(argv, all, metrics);

  let dropsReported = 0;
  const print = () => {
    const now = new Date();
    const snaps = counters.map((c) => ({ c, snap: c.snapshot() }));
    const hsnaps = hists.map((h) => ({ h, snap: h.snapshot() }));
    if (argv.json) {
      const lines = [...snaps.map(({ c, snap }) => countsJson(now, c.name, c.by, snap)), ...hsnaps.map(({ h, snap }) => histogramJson(now, h.name, h.what, snap))];
      process.stdout.write(lines.join('\n') + '\n');
    } else {
      const parts: string[] = [];
      if (argv.interval !== undefined) parts.push(`[${now.toTimeString().slice(0, 8)}]\n`);
      if (counters.length) {
        const rows = snaps.flatMap(({ c, snap }) => snap.map((e) => ({ probe: c.name, label: by === 'probe' ? undefined : e.label, count: e.count })));
        parts.push(renderCounts(rows, by === 'probe' ? undefined : by));
      }
      parts.push(...hsnaps.map(({ h, snap }) => `${h.name} ${h.what}:\n${renderHistogram(snap)}`));
      process.stdout.write(parts.join('\n'));
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
    finish: () => {
      clearInterval(timer);
      // Closing detaches and keeps the final reading: what is printed is final.
      // The process ends here: the kernel may finish detaching after it.
      Session.get().detachInBackground();
      for (const s of all) s.close();
      print();
      const events = counters.reduce((n, c) => n + c.snapshot().total, 0) + hists.reduce((n, h) => n + h.snapshot().total, 0);
      say(`${events} events, ${all.reduce((n, s) => n + s.dropped, 0)} lost`);
    },
  });
  if (argv.c === undefined && !argv.json && process.stderr.isTTY) {
    const what = by !== undefined ? `Counting by ${by}` : argv.latency ? 'Timing' : `Histogram of ${argv.hist}`;
    process.stderr.write(`${what}: ${all.map((s) => s.name).join(', ')}... Ctrl-C to end.\n`);
  }
}

