/**
 * The command line: its commands and options (yargs). The tracing command is
 * loaded with this file; listing, info, pinning and summaries are imported
 * when they run, so start-up pays only for what tracing needs.
 */
import yargs from 'yargs';
import { checkStringSize } from '../attach/options';
import { OptionError } from '../errors';
import type { TraceArgs } from './options';
import { fail } from './report';
import { trace } from './trace';

/** Runs a command from a module imported on demand; its failure is reported as any other. */
function lazy<M>(load: () => Promise<M>, run: (m: M) => void | Promise<void>): void {
  load().then(run).catch(fail);
}

/** Parses `args` and runs the command they name. */
export function main(args: string[]): void {
  const parser = yargs(args)
    .scriptName('kprobe-node')
    .usage('$0 [target..] [options]\n\nTrace kernel functions, syscalls and tracepoints live, or sample CPUs.\n' +
      'A target is a kernel function (fuse_open_common), kprobe:fn, kretprobe:fn, syscall:name, tracepoint:cat:name,\n' +
      "uprobe:/path/to/bin:symbol, uretprobe:libc:malloc, profile:hz:99; names may be patterns ('vfs_*', 'tracepoint:syscalls:sys_enter_*').")
    .command('$0 [targets..]', 'trace (the default command)', (y) =>
      y.positional('targets', { type: 'string', array: true, default: [] as string[], describe: 'what to trace' }),
      (argv) => trace(argv as unknown as TraceArgs).catch(fail))
    .command('list [pattern]', "list what can be traced: kernel functions, tracepoint:cat:name, syscall:name; a glob pattern ('fuse_*', 'tracepoint:sched:*') narrows it", (y) =>
      y.positional('pattern', { type: 'string' }),
      (argv) => lazy(() => import('./inspect'), (m) => m.list(argv as unknown as { pattern?: string; json: boolean })))
    .command('pinned', 'list the probes pinned with --pin, and what they trace', () => undefined, (argv) =>
      lazy(() => import('./pinned'), (m) => m.showPinned(argv as unknown as { json: boolean })))
    .command('attach-pinned <name>', 'read the events of a pinned probe', (y) => y.positional('name', { type: 'string', demandOption: true }), (argv) =>
      lazy(() => import('./pinned'), (m) => m.attachPinned(argv as unknown as { name: string; json: boolean; duration?: number })))
    .command('unpin <name>', 'remove a pinned probe: it stops tracing', (y) => y.positional('name', { type: 'string', demandOption: true }), (argv) =>
      lazy(() => import('./pinned'), (m) => m.removePinned(argv as unknown as { name: string })))
    .command('serve <config>', 'run as a metrics exporter: attach the summaries a YAML or JSON file names, serve them at /metrics; SIGHUP reloads it', (y) =>
      y.positional('config', { type: 'string', demandOption: true }).option('listen', { type: 'string', describe: 'host:port (or a port on 127.0.0.1) instead of the file\'s listen' }),
      (argv) => lazy(() => import('./serve'), (m) => m.serveConfig(argv as unknown as { config: string; listen?: string })))
    .command('info <target>', 'show the arguments of a function, tracepoint or syscall:name', (y) =>
      y.positional('target', { type: 'string', demandOption: true }),
      (argv) => lazy(() => import('./inspect'), (m) => m.info(argv as unknown as { target: string; json: boolean })))
    .command('types [names..]', "TypeScript declarations of a BPF object's maps, programs and types; with --kernel, of kernel functions' arguments", (y) =>
      y.positional('names', { type: 'string', array: true, default: [] as string[], describe: 'a .bpf.o file, or kernel functions with --kernel' })
        .option('kernel', { type: 'boolean', default: false, describe: 'type kprobe events of these kernel functions (from kernel BTF)' })
        .option('out', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
        .option('name', { type: 'string', describe: "the object spec's name (default: from the file name, counts.bpf.o -> CountsSpec)" })
        .option('module', { type: 'string', describe: 'with --kernel: the module to augment (default kprobe-node)' }),
      (argv) => lazy(() => import('./types'), (m) => m.types(argv as unknown as import('./types').TypesArgs)))
    .option('ret', { type: 'boolean', default: false, describe: 'trace returns (kretprobe, syscall exit)' })
    .option('syscall', { type: 'string', array: true, default: [] as string[], describe: 'trace a syscall by name' })
    .option('tracepoint', { type: 'string', array: true, default: [] as string[], describe: 'trace a tracepoint, cat:name' })
    .option('pid', { alias: 'p', type: 'number', describe: 'only this process id (uprobes attach in it; in a container: as the container numbers it)' })
    .option('tid', { type: 'number', describe: 'only this thread id' })
    .option('uid', { type: 'number', describe: 'only this user id' })
    .option('comm', { type: 'string', describe: 'only tasks with this command name' })
    .option('cgroup', { type: 'string', describe: "only tasks in this cgroup (v2) or below it: a path (/system.slice/nginx.service), 'self' or an id" })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line (-f json)' })
    .option('format', { alias: 'f', type: 'string', describe: 'output format: text (default) or json' })
    .option('output', { alias: 'o', type: 'string', describe: 'write events and summaries to this file instead of stdout' })
    .option('l', { type: 'boolean', default: false, describe: "list what can be traced, as the list command does: -l 'tracepoint:sched:*' (with -v, their arguments)" })
    .option('explain', { type: 'boolean', default: false, describe: 'say how each probe was attached and why (strategy, fallbacks, clones)' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'what --explain says, and how the BPF programs and maps were loaded' })
    .option('c', { type: 'string', describe: 'run this command, trace until it exits' })
    .option('exit-with-command', { type: 'boolean', default: false, describe: "with -c: exit with the command's exit status" })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('max-events', { alias: 'M', type: 'number', describe: 'stop after printing this many events' })
    .option('time', { type: 'string', describe: 'time column of event lines: s (HH:MM:SS, default), ms, us, ns, rel (seconds since start) or none' })
    .option('include-self', { type: 'boolean', default: false, describe: 'trace this command itself too (left out, in the kernel, by default)' })
    .option('count', {
      type: 'string',
      coerce: (v: string) => (v === '' ? true : v),
      describe: 'count hits in the kernel, by comm (by probe for a pattern), by=pid, by=probe, by=cgroup, by=container or by=<expr>; printed largest first',
    })
    .option('latency', { type: 'boolean', default: false, describe: 'histogram of the time from entry to return of a function or syscall (in the kernel)' })
    .option('hist', { type: 'string', describe: 'histogram of a numeric argument or return value, e.g. count or ret (in the kernel); log2 buckets unless --linear or --log-linear' })
    .option('linear', { type: 'string', describe: "with --hist or --latency: linear buckets 'min,max,step' (bpftrace's lhist; durations like 1ms for --latency)" })
    .option('log-linear', { type: 'number', describe: "with --hist or --latency: each power of two split into 2^N buckets, N 0..5 (bpftrace's hist(n, N))" })
    .option('by', { type: 'string', describe: 'with --hist or --latency: one histogram per comm or pid (with --count: as by=)' })
    .option('top', { type: 'number', describe: 'print only the largest N counts, stacks or histograms' })
    .option('interval', { type: 'number', describe: 'with --count, --latency, --hist: print every this many seconds too' })
    .option('serve', { type: 'string', describe: 'with --count, --latency, --hist: serve it at http://<host:port>/metrics for Prometheus instead of printing it (a bare port: on 127.0.0.1)' })
    .option('metric', { type: 'string', describe: 'with --serve: the metric\'s name (default kprobe_node_events, kprobe_node_latency_seconds, kprobe_node_value)' })
    .option('max-series', { type: 'number', describe: 'with --serve: most series a metric exposes; the rest are added up in one "other" series (default 1000)' })
    .option('max-counts', { type: 'number', describe: 'entries of the in-kernel count map (default 10240)' })
    .option('ring-size', { type: 'number', describe: 'bytes of the ring buffer, a power of two (default 4 MiB)' })
    .option('arg', { alias: 'a', type: 'string', array: true, default: [] as string[], describe: "argument expression, e.g. 'file->f_path.dentry->d_name.name' (repeatable, at most 8)" })
    .option('filter', { type: 'string', describe: "keep events where this holds (in the kernel): 'count > 4096 && comm == \"bash\"'" })
    .option('stack', { type: 'string', describe: 'record stacks: kernel, user or both (bare --stack: both); with --count, stacks counted in the kernel, most common first' })
    .option('folded', { type: 'boolean', default: false, describe: 'with --count --stack: folded stacks (comm;outer;...;inner count), the input of flamegraph.pl and speedscope' })
    .option('demangle', { type: 'boolean', default: true, describe: 'show C++ names demangled (--no-demangle: as the binary has them)' })
    .option('max-stacks', { type: 'number', describe: 'stacks the kernel keeps for --count --stack (default 8192)' })
    .option('debug-dir', { type: 'string', array: true, describe: 'where separate debug files are found by build id, <dir>/.build-id/ab/cdef....debug (default /usr/lib/debug)' })
    .option('pin', { type: 'string', describe: 'keep the probe attached after this command ends, pinned in bpffs under this name' })
    .option('string-size', { type: 'number', describe: 'longest string fetched per argument (default 256, at most 4096)' })
    .example('$0 fuse_open_common', 'every call of a kernel function')
    .example("$0 -l 'tracepoint:syscalls:sys_enter_*'", 'what can be traced (as bpftrace -l)')
    .example("$0 'tracepoint:syscalls:sys_enter_*' --count -c 'ls /'", 'syscalls a command makes, counted per syscall')
    .example('$0 profile:hz:99 --stack kernel --count --duration 5', 'where the CPUs spend their time (kernel stacks)')
    .example('$0 --syscall read --ret --hist ret --log-linear 3', 'read sizes, each power of two in 8 buckets')
    .example("$0 vfs_fsync_range --arg 'name=file->f_path.dentry->d_name.name'", 'a field reached through pointers')
    .example('$0 uprobe:libc:malloc --pid 1234 --arg size=arg0', 'a user-space function, in one process')
    .example('$0 --count --stack kernel -c "sync -f /" syscalls:sys_enter_syncfs', 'the most common stacks')
    .example('$0 --syscall write --count --stack user --folded --pid 1234 > out.folded', 'a flame graph\'s input: flamegraph.pl out.folded > out.svg')
    .example('$0 info vfs_read', "a function's arguments")
    .example('$0 types counts.bpf.o -o counts.d.ts', 'typings for openObject<CountsSpec>()')
    .example("$0 list 'fuse_*'", 'functions (and tracepoints, syscalls) whose names match')
    .example("$0 'vfs_fsync*' --explain", 'every function that matches, and how each was attached')
    .example('$0 --syscall openat --count by=comm --interval 1', 'who opens files, every second')
    .example('$0 --syscall nanosleep --latency', 'how long sleeps take')
    .example('$0 --syscall read --hist ret', 'sizes that read returns')
    .example('$0 --syscall openat --count --serve 9464', 'file opens by command, for Prometheus at http://127.0.0.1:9464/metrics')
    .example('$0 serve /etc/kprobe-node/exporter.yaml', 'a metrics exporter of the summaries that file names')
    .example('$0 --syscall openat --comm bash', 'files bash opens')
    .example('$0 --syscall openat --count by=container', 'which containers open files')
    .example('$0 --tracepoint syscalls:sys_enter_syncfs -c "sync -f /"', 'trace while a command runs')
    .strict()
    .fail((msg, err) => fail(err ?? new OptionError(msg)))
    .help()
    .alias('h', 'help')
    .version()
    .alias('V', 'version');
  parser.check((argv) => {
    for (const key of ['pid', 'tid', 'uid', 'duration', 'string-size', 'interval', 'max-counts', 'max-series', 'ring-size', 'max-stacks', 'max-events', 'top', 'log-linear']) {
      if (argv[key] !== undefined && Number.isNaN(argv[key])) throw new OptionError(`--${key} must be a number`);
    }
    checkStringSize(argv['string-size'] as number | undefined, '--string-size');
    for (const key of ['max-events', 'top']) {
      const v = argv[key] as number | undefined;
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new OptionError(`--${key} must be a positive integer, got ${v}`);
    }
    return true;
  });
  parser.parse();
}

