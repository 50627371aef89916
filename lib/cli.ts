#!/usr/bin/env node
/**
 * The command line: `kprobe-node <function>` and friends. Everything it does
 * goes through the public API; this file only parses, prints and cleans up.
 */
import { spawn } from 'child_process';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ProbeOptions, attachKprobe, attachKretprobe, attachSyscall, attachTracepoint } from './attach';
import type { TraceEvent } from './decode';
import { describe } from './describe';
import { KprobeNodeError, OptionError } from './errors';
import { LineWriter, formatJson, formatLine } from './output';
import type { Probe } from './probe';
import { Session } from './session';
import { StackCounter, parseStackOption, stackLines, withStacksJson } from './stack';
import { Target, parseTarget } from './target';
import { UprobeTarget, attachUprobeTarget, parseUprobeTarget } from './uprobe';

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
  count: boolean;
  arg: string[];
  filter?: string;
  stringSize?: number;
  stack?: string | boolean;
}

export { parseTarget } from './target';
export type { Target } from './target';

function attach(t: Target | UprobeTarget, opts: ProbeOptions): Probe {
  switch (t.kind) {
    case 'uprobe':
    case 'uretprobe':
      return attachUprobeTarget(t, opts);
    case 'kprobe':
      return attachKprobe(t.name, opts);
    case 'kretprobe':
      return attachKretprobe(t.name, opts);
    case 'tracepoint':
      return attachTracepoint(t.name, opts);
    case 'syscall':
      return attachSyscall(t.name, { ...opts, ret: t.ret });
  }
}

function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`kprobe-node: ${message}\n`);
  if (process.env.KPROBE_NODE_DEBUG && e instanceof KprobeNodeError && e.log) process.stderr.write(e.log + '\n');
  process.exit(e instanceof OptionError ? 2 : 1);
}

async function trace(argv: TraceArgs): Promise<void> {
  const stack = parseStackOption(argv.stack);
  if (stack.target) argv.targets.unshift(stack.target);
  const targets = [
    ...argv.targets.map((t) => parseUprobeTarget(t, argv.ret) ?? parseTarget(t, argv.ret)),
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
  // --count --stack: the most common stacks, counted here from the streamed events.
  const stackCounts = stack.stack && argv.count ? new StackCounter() : undefined;

  const out = new LineWriter(process.stdout);
  const counts = new Map<string, number>();
  const probes: Probe[] = [];
  let stopping = false;

  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
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
      const probe = attach(t, opts);
      probes.push(probe);
      for (const w of probe.warnings) process.stderr.write(`kprobe-node: warning: ${w}\n`);
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
    const child = spawn('/bin/sh', ['-c', argv.c], { stdio: 'inherit' });
    child.on('error', (e) => fail(new OptionError(`cannot run -c command: ${e.message}`)));
    child.on('exit', () => {
      // The child's last events may still sit in the ring: deliver them first.
      Session.get().flush();
      stop(0);
    });
  } else if (!argv.json && !argv.count && process.stderr.isTTY) {
    process.stderr.write(`Tracing ${probes.map((p) => p.name).join(', ')}... Ctrl-C to end.\n`);
  }
}

function info(argv: { target: string; json: boolean }): void {
  const d = describe(argv.target);
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
    .command('info <target>', 'show the arguments of a function, tracepoint or syscall:name', (y) =>
      y.positional('target', { type: 'string', demandOption: true }),
      (argv) => {
        try {
          info(argv as unknown as { target: string; json: boolean });
        } catch (e) {
          fail(e);
        }
      })
    .option('ret', { type: 'boolean', default: false, describe: 'trace returns (kretprobe, syscall exit)' })
    .option('syscall', { type: 'string', array: true, default: [] as string[], describe: 'trace a syscall by name' })
    .option('tracepoint', { type: 'string', array: true, default: [] as string[], describe: 'trace a tracepoint, cat:name' })
    .option('pid', { type: 'number', describe: 'only this process id' })
    .option('tid', { type: 'number', describe: 'only this thread id' })
    .option('uid', { type: 'number', describe: 'only this user id' })
    .option('comm', { type: 'string', describe: 'only tasks with this command name' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
    .option('c', { type: 'string', describe: 'run this command, trace until it exits' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('count', { type: 'boolean', default: false, describe: 'print counts per probe and comm at the end' })
    .option('arg', { alias: 'a', type: 'string', array: true, default: [] as string[], describe: "argument expression, e.g. 'file->f_path.dentry->d_name.name' (repeatable, at most 8)" })
    .option('filter', { alias: 'f', type: 'string', describe: "keep events where this holds (in the kernel): 'count > 4096 && comm == \"bash\"'" })
    .option('stack', { type: 'string', describe: 'record stacks: kernel, user or both (bare --stack: both); with --count, the most common stacks' })
    .option('string-size', { type: 'number', describe: 'longest string fetched per argument (default 256, at most 4096)' })
    .example('$0 fuse_open_common', 'every call of a kernel function')
    .example("$0 vfs_fsync_range --arg 'name=file->f_path.dentry->d_name.name'", 'a field reached through pointers')
    .example('$0 uprobe:libc:malloc --pid 1234 --arg size=arg0', 'a user-space function, in one process')
    .example('$0 --count --stack kernel -c "sync -f /" syscalls:sys_enter_syncfs', 'the most common stacks')
    .example('$0 info vfs_read', "a function's arguments")
    .example('$0 --syscall openat --comm bash', 'files bash opens')
    .example('$0 --tracepoint syscalls:sys_enter_syncfs -c "sync -f /"', 'trace while a command runs')
    .strict()
    .fail((msg, err) => fail(err ?? new OptionError(msg)))
    .help()
    .version();
  parser.check((argv) => {
    for (const key of ['pid', 'tid', 'uid', 'duration', 'string-size']) {
      if (argv[key] !== undefined && Number.isNaN(argv[key])) throw new OptionError(`--${key} must be a number`);
    }
    return true;
  });
  parser.parse();
}

if (require.main === module) main(hideBin(process.argv));
