/**
 * `kprobe-node <target>...`: attach, print every event (a line, or JSON),
 * and at the end how many were seen and lost. Summaries (--count, --latency,
 * --hist) go to ./summarize.ts.
 */
import { KprobeOptions, ProbeOptions, Target, attachTarget } from '../attach';
import type { EventBatch } from '../core/event';
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import { jsonLine } from '../format/json';
import { textLine } from '../format/text';
import type { StackShow } from '../format/stack';
import { TimeColumn, timeColumn } from '../format/time';
import { isGlob } from '../sys/glob';
import { Run, runUntilDone } from './lifecycle';
import { TraceArgs, jsonOutput, offerStackFiles, parseStackOption, probeOptionsOf, takeCountOption, targetsOf, timeFormatOf } from './options';
import { LineWriter, openOutput, output } from './output';
import { LossReport, reportAttached, reportLoad, say } from './report';

/** Attaching many functions one by one takes a while: show how far it got on a terminal. */
function withProgress(t: Target, opts: ProbeOptions): KprobeOptions {
  if ((t.kind !== 'kprobe' && t.kind !== 'kretprobe') || !isGlob(t.name) || !process.stderr.isTTY) return opts;
  const name = t.name;
  return {
    ...opts,
    onProgress: (done, total) => process.stderr.write(`\rkprobe-node: attaching ${name}: ${done}/${total}${done === total ? '\n' : ''}`),
  };
}

/** What a loss says: how many, which ring was full, and how to make it larger. */
export function lostMessage(n: number, session?: Session): string {
  const size = session ? `the ${session.ringBytes >= 1 << 20 ? `${session.ringBytes / (1 << 20)} MiB` : `${session.ringBytes / 1024} KiB`} ring buffer` : 'the ring buffer';
  return `${n} event${n === 1 ? '' : 's'} lost: ${size} was full (a larger one rides out longer bursts: --ring-size <bytes>, a power of two)`;
}

export async function trace(argv: TraceArgs): Promise<void> {
  // -l lists, as the list command does (bpftrace's -l).
  if (argv.l) return (await import('./inspect')).listFlag(argv);
  // The command line's own ring size is set before the session loads (lib/cli/main.ts); --ring-size
  // and --max-counts keep the session from loading early, so they can still be set here.
  if (argv.ringSize !== undefined || argv.maxCounts !== undefined) {
    const api = await import('../api');
    const config = { ringBytes: argv.ringSize, maxCounts: argv.maxCounts };
    api.checkConfig(config, (key) => (key === 'ringBytes' ? '--ring-size' : '--max-counts'));
    api.configure(config);
  }
  argv.json = jsonOutput(argv);
  const time = timeFormatOf(argv);
  if (argv.output !== undefined) openOutput(argv.output);
  const countBy = takeCountOption(argv);
  const stack = parseStackOption(argv.stack);
  if (stack.target) argv.targets.unshift(stack.target);
  const targets = targetsOf(argv);
  if (!targets.length) throw new OptionError('nothing to trace: name a kernel function, --syscall <name> or --tracepoint <cat:name>');
  if (argv.duration !== undefined && !(argv.duration > 0)) throw new OptionError('--duration must be a positive number of seconds');
  const opts = probeOptionsOf(argv, stack.stack);

  if (stack.stack) offerStackFiles(argv);
  // Counts (of stacks too), histograms and latency are computed in the kernel.
  if (argv.latency || argv.hist !== undefined || countBy !== undefined) {
    return (await import('./summarize')).summarize(argv, targets, opts, countBy);
  }
  if (argv.folded) throw new OptionError('--folded goes with --count --stack: folded stacks with their counts');
  if (argv.serve !== undefined || argv.metric !== undefined || argv.maxSeries !== undefined) {
    throw new OptionError('--serve serves an in-kernel summary: --count (without --stack), --latency or --hist');
  }
  if (argv.pin !== undefined && targets.length !== 1) throw new OptionError('--pin pins one target at a time');
  const pin = argv.pin !== undefined ? await import('../pin') : undefined;

  const probes: Probe[] = [];
  // An output that cannot keep up holds the ring's reading: the kernel counts what does not fit.
  const out = new LineWriter(output(), (held) => probes.forEach((p) => (held ? p.pause() : p.resume())));
  const losses = new LossReport((n) => lostMessage(n, pin ? undefined : Session.get()));
  // With --stack, each event's stacks, symbolized, under its line (or in its JSON object); the symbolizer loads only then.
  const stackShow: StackShow | undefined = stack.stack ? (await import('../format/stack')).stackShow({ explain: argv.explain, demangle: argv.demangle }) : undefined;
  const many = targets.length > 1;
  // -M: once this many events are printed, the run ends (`run` is set below, before any event can arrive).
  let printed = 0;
  let run: Run | undefined;
  const limit = argv.maxEvents ?? Infinity;
  // --time: set once tracing begins (rel counts from then); undefined is HH:MM:SS.
  let column: TimeColumn | null | undefined;

  try {
    for (const t of targets) {
      const probe = pin ? pin.pinProbe(argv.pin as string, t, opts) : attachTarget(t, withProgress(t, opts));
      probes.push(probe);
      if (pin) {
        say(`pinned as ${argv.pin}: it keeps tracing after this command ends; ` +
          `read it with: kprobe-node attach-pinned ${argv.pin}; remove it with: kprobe-node unpin ${argv.pin}`);
      }
      reportAttached(t, probe, argv.explain || argv.verbose);
      // A pattern's events name their own function; several targets' events name their probe.
      const label = (i: number, b: EventBatch) => (probe.partPlans ? b.probe(i) : many ? probe.name : undefined);
      probe.on('batch', (b: EventBatch) => {
        for (let i = 0; i < b.length; i++) {
          if (printed >= limit) return;
          if (argv.json) jsonLine(out, b, i, stackShow);
          else out.write(textLine(b, i, label(i, b), column, stackShow));
          if (++printed >= limit) run?.end({ reason: 'max-events' });
        }
      });
      probe.on('lost', (n: number) => losses.add(n));
    }
  } catch (e) {
    for (const p of probes) p.close();
    throw e;
  }

  if (argv.verbose) reportLoad(probes, opts.excludeSelf === true);
  column = timeColumn(time, process.hrtime.bigint());
  run = runUntilDone({
    duration: argv.duration,
    command: argv.c,
    exitWithCommand: argv.exitWithCommand,
    // The child's last events may still sit in the ring: deliver them first.
    onCommandExit: () => probes.forEach((p) => p.flush()),
    finish: () => {
      // The process ends here: the kernel may finish detaching after it (a pinned probe stays).
      if (!pin) Session.get().detachInBackground();
      for (const p of probes) p.close();
      out.flush();
      losses.end();
      say(`${probes.reduce((n, p) => n + p.seen, 0)} events, ${probes.reduce((n, p) => n + p.lost, 0)} lost`);
    },
  });
  if (argv.c === undefined && !argv.json && process.stderr.isTTY) {
    process.stderr.write(`Tracing ${probes.map((p) => p.name).join(', ')}... Ctrl-C to end.\n`);
  }
}
