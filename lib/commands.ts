/**
 * The command line's commands: `kprobe-node <function>` and friends (lib/cli.ts
 * starts it). Everything it does goes through the public API; this file only
 * parses, prints and cleans up. What only some commands use (summaries,
 * pinning, listing, info) is imported when they run: start-up pays for what
 * tracing needs.
 */
import { ChildProcess, spawn } from 'child_process';
import yargs from 'yargs';
import { KprobeOptions, ProbeOptions, attachKprobe, attachKretprobe, attachSyscall, attachTracepoint } from './attach';
import type { TraceEvent } from './decode';
import type { Counter, Histogram } from './aggregate';
import { KprobeNodeError, OptionError } from './errors';
import { isGlob } from './glob';
import { LineWriter, formatJson, formatLine } from './output';
import type { Probe } from './probe';
import { Session } from './session';
import { StackCounter, parseStackOption, stackLines, withStacksJson } from './stack';
import { Target, UprobeTarget, parseAnyTarget } from './target';
import { attachUprobeTarget } from './uprobe';

interface TraceArgs {
  targets: string[];
  ret: boolean;
  syscall: string[];
  tracepoint: string[];
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
  json: boolean;
  c?: string;
  duration?: number;
  /** `--count` alone is true; `--count by=pid` is the text after it. */
  count?: string | boolean;
  latency: boolean;
  hist?: string;
  interval?: number;
  maxCounts?: number;
  ringSize?: number;
  arg: string[];
  filter?: string;
  stringSize?: number;
  stack?: string | boolean;
  explain: boolean;
  pin?: string;
}

function attach(t: Target | UprobeTarget, opts: ProbeOptions): Probe {
  switch (t.kind) {
    case 'uprobe':
    case 'uretprobe':
      return attachUprobeTarget(t, opts);
    case 'kprobe':
      return attachKprobe(t.name, withProgress(t.name, opts));
    case 'kretprobe':
      return attachKretprobe(t.name, withProgress(t.name, opts));
    case 'tracepoint':
      return attachTracepoint(t.name, opts);
    case 'syscall':
      return attachSyscall(t.name, { ...opts, ret: t.ret });
  }
}

/** Attaching many functions one by one takes a while: show how far it got on a terminal. */
function withProgress(name: string, opts: ProbeOptions): KprobeOptions {
  if (!isGlob(name) || !process.stderr.isTTY) return opts;
  return {
    ...opts,
    onProgress: (done, total) => process.stderr.write(`\rkprobe-node: attaching ${name}: ${done}/${total}${done === total ? '\n' : ''}`),
  };
}

/** What the user should know once a probe is attached: warnings, wildcard totals, --explain. */
function reportAttached(t: Target | UprobeTarget, probe: Probe, explain: boolean): void {
  for (const w of probe.warnings) process.stderr.write(`kprobe-node: warning: ${w}\n`);
  if ((t.kind === 'kprobe' || t.kind === 'kretprobe') && isGlob(t.name)) {
    const skipped = probe.skipped.length;
    const total = Number(probe.strategy.match(/(\d+) functions$/)?.[1] ?? 1);
    process.stderr.write(`kprobe-node: ${t.name}: attached ${total - skipped} of ${total} function${total === 1 ? '' : 's'}, ${skipped} skipped\n`);
    if (explain) for (const s of probe.skipped) process.stderr.write(`kprobe-node:   skipped ${s.name}: ${s.reason}\n`);
  }
  if (explain) {
    const lines = [`${probe.name}: ${probe.strategy}`, ...probe.explain.split('\n').filter(Boolean).map((l) => `  ${l}`)];
    process.stderr.write(lines.map((l) => `kprobe-node: ${l}`).join('\n') + '\n');
  }
}

function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`kprobe-node: ${message}\n`);
  if (process.env.KPROBE_NODE_DEBUG && e instanceof KprobeNodeError && e.log) process.stderr.write(e.log + '\n');
  process.exit(e instanceof OptionError ? 2 : 1);
}

async function trace(argv: TraceArgs): Promise<void> {
  // The command line's own ring size is set before the session loads (lib/cli.ts); --ring-size
  // keeps the session from loading early, so it can still be set here.
  if (argv.ringSize !== undefined) (await import('./aggregate')).configure({ ringBytes: argv.ringSize });
  const countBy = takeCountOption(argv);
  const stack = parseStackOption(argv.stack);
  if (stack.target) argv.targets.unshift(stack.target);
  const targets = [
    ...argv.targets.map((t) => parseAnyTarget(t, argv.ret)),
    ...argv.syscall.map((name): Target => ({ kind: 'syscall', name, ret: argv.ret })),
    ...argv.tracepoint.map((name): Target => ({ kind: 'tracepoint', name, ret: false })),
  ];
  if (!targets.length) throw new OptionError('nothing to trace: name a kernel function, --syscall <name> or --tracepoint <cat:name>');
  if (argv.duration !== undefined && !(argv.duration > 0)) throw new OptionError('--duration must be a positive number of seconds');
  const opts: ProbeOptions = {
    pid: argv.pid,
    tid: argv.tid,
    uid: argv.uid,
    comm: argv.comm,
    args: argv.arg.length ? argv.arg : undefined,
    filter: argv.filter,
    stringSize: argv.stringSize,
    stack: stack.stack,
  };
  const pinned = argv.pin !== undefined ? pinnedTarget(argv, targets.length) : undefined;
  const pin = pinned ? await import('./pin') : undefined;
  // --count --stack: the most common stacks, counted here from the streamed events.
  const stackCounts = stack.stack && argv.count ? new StackCounter() : undefined;

  // Counts, histograms and latency are computed in the kernel; --count --stack counts stacks from events, below.
  if (argv.latency || argv.hist !== undefined || (countBy !== undefined && !opts.stack)) return summarize(argv, targets, opts, countBy);

  const out = new LineWriter(process.stdout);
  const counts = new Map<string, number>();
  const probes: Probe[] = [];
  let stopping = false;

  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    // The process ends here: the kernel may finish detaching after it.
    Session.get().detachInBackground();
    for (const p of probes) p.close();
    out.flush();
    if (stackCounts) {
      process.stdout.write(stackCounts.report());
    } else if (argv.count) {
      const rows = [...counts].sort((a, b) => b[1] - a[1]);
      const lines = rows.map(([key, n]) => `${String(n).padStart(10)}  ${key}`);
      process.stdout.write(`${'COUNT'.padStart(10)}  PROBE COMM\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
    }
    const seen = probes.reduce((n, p) => n + p.seen, 0);
    const lost = probes.reduce((n, p) => n + p.lost, 0);
    process.stderr.write(`kprobe-node: ${seen} events, ${lost} lost\n`);
    process.stdout.write('', () => process.exit(code));
  };

  try {
    for (const t of targets) {
      const probe = pinned && pin ? pin.pinProbe(pinned.name, pinned.target, { ...opts, ret: argv.ret }) : attach(t, opts);
      probes.push(probe);
      if (pinned) {
        process.stderr.write(`kprobe-node: pinned as ${pinned.name}: it keeps tracing after this command ends; ` +
          `read it with: kprobe-node attach-pinned ${pinned.name}; remove it with: kprobe-node unpin ${pinned.name}\n`);
      }
      reportAttached(t, probe, argv.explain);
      const many = targets.length > 1;
      probe.on('event', (ev: TraceEvent) => {
        if (stackCounts) {
          stackCounts.add(probe.name, ev);
        } else if (stack.stack) {
          out.write(argv.json ? withStacksJson(formatJson(ev), ev) : [formatLine(probe, ev, many), ...stackLines(ev)].join('\n'));
        } else if (argv.count) {
          const key = `${probe.name} ${ev.comm}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        } else {
          out.write(argv.json ? formatJson(ev) : formatLine(probe, ev, many));
        }
      });
      probe.on('lost', (n: number) => process.stderr.write(`kprobe-node: ${n} events lost (ring buffer full)\n`));
    }
  } catch (e) {
    for (const p of probes) p.close();
    throw e;
  }

  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stop(0);
  });
  if (argv.duration !== undefined) setTimeout(() => stop(0), argv.duration * 1000);
  if (argv.c !== undefined) {
    const child = runCommand(argv.c);
    child.on('exit', () => {
      // The child's last events may still sit in the ring: deliver them first.
      Session.get().flush();
      stop(0);
    });
  } else if (!argv.json && !argv.count && process.stderr.isTTY) {
    process.stderr.write(`Tracing ${probes.map((p) => p.name).join(', ')}... Ctrl-C to end.\n`);
  }
}

/**
 * The -c command, started once its probes are attached. Plain words (`sync -f /`)
 * run directly, as bpftrace runs them, sparing a shell's start; anything a
 * shell would interpret (quotes, $, |, ;, globs, redirections) runs under /bin/sh.
 */
function runCommand(command: string): ChildProcess {
  const words = command.trim().split(/\s+/);
  const plain = words[0] !== '' && words.every((w) => /^[\w@%+=:,./-]+$/.test(w));
  const child = plain ? spawn(words[0], words.slice(1), { stdio: 'inherit' }) : spawn('/bin/sh', ['-c', command], { stdio: 'inherit' });
  child.on('error', (e) => fail(new OptionError(`cannot run -c command: ${e.message}`)));
  return child;
}

/**
 * `--count` (by comm), `--count by=pid`, `--count 'by=flags'`. yargs takes
 * the word after --count as its value; one that is not a `by=` (nor a bare
 * comm, pid or probe) was a target, and goes back to the targets.
 */
function takeCountOption(argv: TraceArgs): string | undefined {
  const v = argv.count;
  if (v === undefined || v === false) return undefined;
  if (v === true || v === '') return 'comm';
  const m = /^by=([^]*)$/.exec(v);
  if (m) {
    if (m[1].trim() === '') throw new OptionError('--count by= needs comm, pid, probe or an argument expression');
    return m[1].trim();
  }
  if (['comm', 'pid', 'probe'].includes(v)) return v;
  argv.targets.push(v);
  return 'comm';
}

function countKeyJson(key: string | number | bigint): string | number {
  if (typeof key !== 'bigint') return key;
  return key <= BigInt(Number.MAX_SAFE_INTEGER) && key >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(key) : key.toString();
}

/**
 * --count, --latency and --hist: summaries the kernel computes, printed every
 * --interval seconds (cumulative) and at the end.
 */
async function summarize(argv: TraceArgs, targets: ReadonlyArray<Target | UprobeTarget>, opts: ProbeOptions, by: string | undefined): Promise<void> {
  const modes = [by !== undefined && '--count', argv.latency && '--latency', argv.hist !== undefined && '--hist'].filter(Boolean);
  if (modes.length > 1) throw new OptionError(`${modes.join(' and ')} do not go together: one summary at a time`);
  if (opts.args) throw new OptionError('--arg does not apply to --count, --latency or --hist: use --count by=<expr> or --hist <expr>');
  if (opts.stack) throw new OptionError('--stack goes with --count (stacks are counted from events), not with --latency or --hist');
  if (argv.interval !== undefined && !(argv.interval > 0)) throw new OptionError('--interval must be a positive number of seconds');
  const { configure, countBy, histogram, latency } = await import('./aggregate');
  const { renderCounts, renderHistogram } = await import('./chart');
  if (argv.maxCounts !== undefined) configure({ maxCounts: argv.maxCounts });
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
  for (const s of all) for (const p of s.probes) for (const w of p.warnings) process.stderr.write(`kprobe-node: warning: ${w}\n`);

  let dropsReported = 0;
  const print = () => {
    const now = new Date();
    const snaps = counters.map((c) => ({ c, snap: c.snapshot() }));
    const hsnaps = hists.map((h) => ({ h, snap: h.snapshot() }));
    if (argv.json) {
      const time = now.toISOString();
      const lines = [
        ...snaps.map(({ c, snap }) =>
          JSON.stringify({ time, probe: c.name, by: c.by, counts: snap.map((e) => ({ key: countKeyJson(e.key), count: e.count, label: e.label })), dropped: snap.dropped }),
        ),
        ...hsnaps.map(({ h, snap }) => JSON.stringify({ time, probe: h.name, value: h.what, ...snap })),
      ];
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
      process.stderr.write(`kprobe-node: ${dropped - dropsReported} hits not counted: the count map is full (raise --max-counts)\n`);
      dropsReported = dropped;
    }
  };

  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    // Closing detaches and keeps the final reading: what is printed is final.
    // The process ends here: the kernel may finish detaching after it.
    Session.get().detachInBackground();
    for (const s of all) s.close();
    print();
    const events = counters.reduce((n, c) => n + c.snapshot().total, 0) + hists.reduce((n, h) => n + h.snapshot().total, 0);
    process.stderr.write(`kprobe-node: ${events} events, ${all.reduce((n, s) => n + s.dropped, 0)} lost\n`);
    process.stdout.write('', () => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stop();
  });
  if (argv.interval !== undefined) timer = setInterval(print, argv.interval * 1000);
  if (argv.duration !== undefined) setTimeout(stop, argv.duration * 1000);
  if (argv.c !== undefined) {
    runCommand(argv.c).on('exit', stop);
  } else if (!argv.json && process.stderr.isTTY) {
    const what = by !== undefined ? `Counting by ${by}` : argv.latency ? 'Timing' : `Histogram of ${argv.hist}`;
    process.stderr.write(`${what}: ${all.map((s) => s.name).join(', ')}... Ctrl-C to end.\n`);
  }
}

async function list(argv: { pattern?: string; json: boolean }): Promise<void> {
  const { listProbes } = await import('./list');
  const rows = listProbes(argv.pattern);
  const text = argv.json
    ? rows.map((r) => JSON.stringify(r)).join('\n')
    : rows.map((r) => (r.module ? `${r.target} [${r.module}]` : r.target)).join('\n');
  process.stdout.write(text + (rows.length ? '\n' : ''));
  if (!rows.length && argv.pattern !== undefined) process.stderr.write(`kprobe-node: nothing matches ${argv.pattern}\n`);
}

/** --pin: one target, streamed; summaries are not pinned. */
function pinnedTarget(argv: TraceArgs, count: number): { name: string; target: string } {
  if (count !== 1) throw new OptionError('--pin pins one target at a time');
  if (argv.count !== undefined || argv.latency || argv.hist !== undefined) throw new OptionError('--pin goes with streamed events, not with --count, --latency or --hist');
  const target = argv.targets[0] ?? (argv.syscall[0] !== undefined ? `syscall:${argv.syscall[0]}` : `tracepoint:${argv.tracepoint[0]}`);
  return { name: argv.pin as string, target };
}

async function pinned(argv: { json: boolean }): Promise<void> {
  const all = (await import('./pin')).listPinned();
  if (argv.json) {
    for (const p of all) process.stdout.write(JSON.stringify(p) + '\n');
    return;
  }
  if (!all.length) process.stdout.write('no pinned probes\n');
  for (const p of all) {
    const opts = Object.entries(p.options).map(([k, v]) => `--${k === 'stringSize' ? 'string-size' : k} ${JSON.stringify(v)}`);
    process.stdout.write(`${p.name}  ${p.target}${p.ret ? ' --ret' : ''}${opts.length ? ' ' + opts.join(' ') : ''}\n` +
      `    ${p.strategy}; ${p.linksPinned} of ${p.links} links pinned; since ${p.created} (pid ${p.pid})\n`);
  }
}

/** attach-pinned: streams a pinned probe's events until Ctrl-C or --duration. */
async function attachPinned(argv: { name: string; json: boolean; duration?: number }): Promise<void> {
  const probe = (await import('./pin')).openPinned(argv.name);
  const out = new LineWriter(process.stdout);
  probe.on('event', (ev: TraceEvent) => out.write(argv.json ? formatJson(ev) : formatLine(probe, ev, false)));
  probe.on('lost', (n: number) => process.stderr.write(`kprobe-node: ${n} events lost (ring buffer full)\n`));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    probe.close();
    out.flush();
    process.stderr.write(`kprobe-node: ${probe.seen} events, ${probe.lost} lost; ${argv.name} stays pinned\n`);
    process.stdout.write('', () => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stop();
  });
  if (argv.duration !== undefined) setTimeout(stop, argv.duration * 1000);
}

async function info(argv: { target: string; json: boolean }): Promise<void> {
  const d = (await import('./describe')).describe(argv.target);
  if (argv.json) {
    process.stdout.write(JSON.stringify(d) + '\n');
    return;
  }
  const lines = [d.prototype];
  if (d.module) lines.push(`  module: ${d.module}`);
  if (d.function) lines.push(`  kernel function: ${d.function}`);
  for (const p of d.params) lines.push(`  ${p.name}: ${p.type}${p.note ? `  (${p.note})` : ''}`);
  if (d.returns) lines.push(`  returns: ${d.returns}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function main(args: string[]): void {
  const parser = yargs(args)
    .scriptName('kprobe-node')
    .usage('$0 [target..] [options]\n\nTrace kernel functions, syscalls and tracepoints live.\n' +
      'A target is a kernel function (fuse_open_common), kprobe:fn, kretprobe:fn, syscall:name, tracepoint:cat:name,\n' +
      'uprobe:/path/to/bin:symbol, uretprobe:libc:malloc.')
    .command('$0 [targets..]', 'trace (the default command)', (y) =>
      y.positional('targets', { type: 'string', array: true, default: [] as string[], describe: 'what to trace' }),
      (argv) => trace(argv as unknown as TraceArgs).catch(fail))
    .command('list [pattern]', "list what can be traced: kernel functions, tracepoint:cat:name, syscall:name; a glob pattern ('fuse_*', 'tracepoint:sched:*') narrows it", (y) =>
      y.positional('pattern', { type: 'string' }),
      (argv) => list(argv as unknown as { pattern?: string; json: boolean }).catch(fail))
    .command('pinned', 'list the probes pinned with --pin, and what they trace', () => undefined, (argv) =>
      pinned(argv as unknown as { json: boolean }).catch(fail))
    .command('attach-pinned <name>', 'read the events of a pinned probe', (y) => y.positional('name', { type: 'string', demandOption: true }), (argv) =>
      attachPinned(argv as unknown as { name: string; json: boolean; duration?: number }).catch(fail))
    .command('unpin <name>', 'remove a pinned probe: it stops tracing', (y) => y.positional('name', { type: 'string', demandOption: true }), (argv) =>
      import('./pin').then((pin) => pin.unpin(argv.name as string)).catch(fail))
    .command('info <target>', 'show the arguments of a function, tracepoint or syscall:name', (y) =>
      y.positional('target', { type: 'string', demandOption: true }),
      (argv) => info(argv as unknown as { target: string; json: boolean }).catch(fail))
    .option('ret', { type: 'boolean', default: false, describe: 'trace returns (kretprobe, syscall exit)' })
    .option('syscall', { type: 'string', array: true, default: [] as string[], describe: 'trace a syscall by name' })
    .option('tracepoint', { type: 'string', array: true, default: [] as string[], describe: 'trace a tracepoint, cat:name' })
    .option('pid', { type: 'number', describe: 'only this process id' })
    .option('tid', { type: 'number', describe: 'only this thread id' })
    .option('uid', { type: 'number', describe: 'only this user id' })
    .option('comm', { type: 'string', describe: 'only tasks with this command name' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
    .option('explain', { type: 'boolean', default: false, describe: 'say how each probe was attached and why (strategy, fallbacks, clones)' })
    .option('c', { type: 'string', describe: 'run this command, trace until it exits' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('count', {
      type: 'string',
      coerce: (v: string) => (v === '' ? true : v),
      describe: 'count hits in the kernel, by comm (default), by=pid, by=probe or by=<expr>; printed largest first',
    })
    .option('latency', { type: 'boolean', default: false, describe: 'histogram of the time from entry to return of a function or syscall (in the kernel)' })
    .option('hist', { type: 'string', describe: 'log2 histogram of a numeric argument or return value, e.g. count or ret (in the kernel)' })
    .option('interval', { type: 'number', describe: 'with --count, --latency, --hist: print every this many seconds too' })
    .option('max-counts', { type: 'number', describe: 'entries of the in-kernel count map (default 10240)' })
    .option('ring-size', { type: 'number', describe: 'bytes of the ring buffer, a power of two (default 2 MiB)' })
    .option('arg', { alias: 'a', type: 'string', array: true, default: [] as string[], describe: "argument expression, e.g. 'file->f_path.dentry->d_name.name' (repeatable, at most 8)" })
    .option('filter', { alias: 'f', type: 'string', describe: "keep events where this holds (in the kernel): 'count > 4096 && comm == \"bash\"'" })
    .option('stack', { type: 'string', describe: 'record stacks: kernel, user or both (bare --stack: both); with --count, the most common stacks' })
    .option('pin', { type: 'string', describe: 'keep the probe attached after this command ends, pinned in bpffs under this name' })
    .option('string-size', { type: 'number', describe: 'longest string fetched per argument (default 256, at most 4096)' })
    .example('$0 fuse_open_common', 'every call of a kernel function')
    .example("$0 vfs_fsync_range --arg 'name=file->f_path.dentry->d_name.name'", 'a field reached through pointers')
    .example('$0 uprobe:libc:malloc --pid 1234 --arg size=arg0', 'a user-space function, in one process')
    .example('$0 --count --stack kernel -c "sync -f /" syscalls:sys_enter_syncfs', 'the most common stacks')
    .example('$0 info vfs_read', "a function's arguments")
    .example("$0 list 'fuse_*'", 'functions (and tracepoints, syscalls) whose names match')
    .example("$0 'vfs_fsync*' --explain", 'every function that matches, and how each was attached')
    .example('$0 --syscall openat --count by=comm --interval 1', 'who opens files, every second')
    .example('$0 --syscall nanosleep --latency', 'how long sleeps take')
    .example('$0 --syscall read --hist ret', 'sizes that read returns')
    .example('$0 --syscall openat --comm bash', 'files bash opens')
    .example('$0 --tracepoint syscalls:sys_enter_syncfs -c "sync -f /"', 'trace while a command runs')
    .strict()
    .fail((msg, err) => fail(err ?? new OptionError(msg)))
    .help()
    .version();
  parser.check((argv) => {
    for (const key of ['pid', 'tid', 'uid', 'duration', 'string-size', 'interval', 'max-counts', 'ring-size']) {
      if (argv[key] !== undefined && Number.isNaN(argv[key])) throw new OptionError(`--${key} must be a number`);
    }
    return true;
  });
  parser.parse();
}

