/**
 * The command line's flags where they overlap bpftrace's (-l, -p, -c, -f, -o,
 * -v, -V, -h) and the rest of what bpftrace and BCC users reach for (-M,
 * --top, --time, --exit-with-command, --include-self), run as users run
 * them; the old long flags keep working. The traced program is kn_flags
 * (test/helpers/knsys.ts), a comm no parallel test uses.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countBy } from '../../lib';
import { describeHost, repoRoot } from '../helpers/host';
import { KnSys, knsys } from '../helpers/knsys';
import { Child, cliPath, runCli } from '../helpers/proc';

jest.setTimeout(60000);

const COMM = 'kn_flags';
const SUMMARY = /^kprobe-node: (\d+) events, (\d+) lost$/m;
/** What -v prints last: the probes are attached by then. */
const ATTACHED = /this process \(pid \d+\) is (left out|traced too)/;

describeHost('bpftrace-style flags', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  let exe: string;
  let dir: string;
  beforeAll(() => {
    exe = knsys(COMM);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-flags-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The CLI started with -v, resolved once its probes are attached. */
  async function attached(args: string[]): Promise<Child> {
    const cli = new Child(process.execPath, [cliPath, ...args, '-v']);
    await cli.waitFor(ATTACHED, 20000, 'stderr');
    return cli;
  }

  test('-l [pattern] lists as the list command does; -l -v shows the arguments; -f json objects', async () => {
    const flag = await runCli(['-l', 'tracepoint:sched:sched_switch*']);
    const command = await runCli(['list', 'tracepoint:sched:sched_switch*']);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toBe(command.stdout);
    expect(flag.stdout.split('\n')).toContain('tracepoint:sched:sched_switch');
    const verbose = await runCli(['-l', '-v', 'syscall:read']);
    expect(verbose.stdout).toBe('syscall:read\n    unsigned int fd\n    char *buf  (a buffer it fills: shown as a pointer; buf:string reads it)\n    size_t count\n');
    const json = await runCli(['-l', 'syscall:openat', '-f', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ kind: 'syscall', name: 'openat', target: 'syscall:openat' });
  });

  test.each([['-p'], ['--pid']])('%s PID: only that process is traced', async (flag) => {
    const a = new KnSys(exe, ['getppid', '3']);
    const b = new KnSys(exe, ['getppid', '5']);
    try {
      const [pa] = await Promise.all([a.ready(), b.ready()]);
      const cli = await attached(['--syscall', 'getppid', flag, String(pa), '--count', 'by=pid', '-f', 'json']);
      await Promise.all([a.go(), b.go()]);
      cli.kill('SIGINT');
      expect((await cli.exited).code).toBe(0);
      expect(JSON.parse(cli.stdout).counts).toEqual([{ key: pa, count: 3, label: String(pa) }]);
    } finally {
      a.kill();
      b.kill();
    }
  });

  test("-c: a failing command's status is reported; with --exit-with-command it is the tracer's", async () => {
    const failing = `${exe} getppid 2; exit 3`;
    const reported = await runCli(['--syscall', 'getppid', '--comm', COMM, '--count', '-c', failing]);
    expect(reported.code).toBe(0);
    expect(reported.stderr).toMatch(/^kprobe-node: the command exited with status 3$/m);
    const passed = await runCli(['--syscall', 'getppid', '--comm', COMM, '--count', '--exit-with-command', '-c', failing]);
    expect(passed.code).toBe(3);
    expect(passed.stdout).toMatch(new RegExp(`^ +2  syscall:getppid ${COMM}$`, 'm'));
    const killed = await runCli(['--syscall', 'getppid', '--comm', COMM, '--exit-with-command', '-c', `${exe} getppid 1; kill -9 $$`]);
    expect(killed.code).toBe(128 + 9);
    expect(killed.stderr).toMatch(/^kprobe-node: the command was killed by SIGKILL$/m);
    const ok = await runCli(['--syscall', 'getppid', '--comm', COMM, '--exit-with-command', '-c', `${exe} getppid 1`]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).not.toMatch(/the command/);
  });

  test('-f json is --json, -f text the default; -f with a filter fails naming --filter; --filter keeps its long name', async () => {
    const cmd = `${exe} lseek 7 9`;
    const flag = await runCli(['--syscall', 'lseek', '--comm', COMM, '-f', 'json', '-c', cmd]);
    const long = await runCli(['--syscall', 'lseek', '--comm', COMM, '--json', '-c', cmd]);
    const strip = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l).args.offset);
    expect(strip(flag.stdout)).toEqual([7, 9]);
    expect(strip(long.stdout)).toEqual([7, 9]);
    const text = await runCli(['--syscall', 'lseek', '--comm', COMM, '-f', 'text', '-c', cmd]);
    expect(text.stdout).toMatch(/^\d\d:\d\d:\d\d kn_flags \d+ fd=\d+ offset=7 whence=0$/m);
    const filtered = await runCli(['--syscall', 'lseek', '--comm', COMM, '--filter', 'offset > 8', '-c', cmd]);
    expect(filtered.stdout.trim().split('\n')).toHaveLength(1);
    expect(filtered.stdout).toMatch(/offset=9/);
    const old = await runCli(['--syscall', 'lseek', '-f', 'offset > 8']);
    expect(old.code).toBe(2);
    expect(old.stderr).toBe('kprobe-node: -f (--format) is the output format, text or json, got "offset > 8"; a filter is --filter\n');
  });

  test('-o FILE: events and the summary go to the file; the -c command keeps stdout', async () => {
    const file = path.join(dir, 'out.txt');
    const r = await runCli(['--syscall', 'lseek', '--comm', COMM, '-o', file, '-c', `${exe} lseek 5; echo from the command`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('from the command\n');
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^\d\d:\d\d:\d\d kn_flags \d+ fd=\d+ offset=5 whence=0\n$/);
    const counts = await runCli(['--syscall', 'lseek', '--comm', COMM, '--count', '--output', file, '-c', `${exe} lseek 1 2`]);
    expect(counts.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${'COUNT'.padStart(10)}  PROBE COMM\n${'2'.padStart(10)}  syscall:lseek ${COMM}\n`);
    const bad = await runCli(['--syscall', 'lseek', '-o', path.join(dir, 'no', 'such', 'dir', 'x')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^kprobe-node: cannot write the output file .*ENOENT/);
  });

  test('-v: what --explain says, then the kernel, the programs loaded (with their ids) and the maps', async () => {
    const r = await runCli(['--syscall', 'getppid', '--comm', COMM, '-v', '-c', `${exe} getppid 1`]);
    expect(r.code).toBe(0);
    const explain = await runCli(['--syscall', 'getppid', '--comm', COMM, '--explain', '-c', `${exe} getppid 1`]);
    // Everything --explain says, -v says too.
    for (const line of explain.stderr.split('\n').filter((l) => l && !SUMMARY.test(l))) expect(r.stderr).toContain(line);
    expect(r.stderr).toMatch(/^kprobe-node: kernel \S+: BTF (yes|no), kprobes (yes|no), uprobes (yes|no); libbpf \d+\.\d+$/m);
    expect(r.stderr).toMatch(/^kprobe-node: loaded .*kprobe_node\.bpf\.o: (kn_tracepoint|kn_kprobe) \(id \d+\)/m);
    expect(r.stderr).toMatch(/^kprobe-node: maps: a 4 MiB ring buffer shared by every probe, 1024 probe slots, a count map of 10240 entries; 1 links attached$/m);
    expect(r.stderr).toMatch(/^kprobe-node: this process \(pid \d+\) is left out of every probe, in the kernel \(--include-self keeps it\)$/m);
  });

  test('-V and --version print the version; -h and --help the usage', async () => {
    const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;
    for (const flag of ['-V', '--version']) expect((await runCli([flag])).stdout).toBe(`${version}\n`);
    for (const flag of ['-h', '--help']) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^kprobe-node \[target\.\.\] \[options\]/);
      expect(r.stdout).toMatch(/-p, --pid/);
      expect(r.stdout).toMatch(/-f, --format/);
      expect(r.stdout).toMatch(/-M, --max-events/);
    }
  });

  test('-M N: the run ends once N events are printed, and the command still running is ended', async () => {
    const start = Date.now();
    const cli = new Child(process.execPath, [cliPath, '--syscall', 'getppid', '--comm', COMM, '-M', '3', '-c', `${exe} getppid 50; sleep 8`]);
    // The tracer's own exit (its stdout stays open while the command's sleep holds it).
    const code = await new Promise<number | null>((resolve) => cli.proc.on('exit', resolve));
    expect(code).toBe(0);
    expect(Date.now() - start).toBeLessThan(7000);
    await cli.exited;
    expect(cli.stdout.trim().split('\n')).toHaveLength(3);
    expect(cli.stderr).toMatch(/^kprobe-node: the command was still running: it was sent SIGTERM$/m);
    const long = await runCli(['--syscall', 'getppid', '--comm', COMM, '--max-events', '2', '--json', '-c', `${exe} getppid 5`]);
    expect(long.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await runCli(['--syscall', 'getppid', '--count', '-M', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/-M \(--max-events\) stops streamed events/);
  });

  test('--top N: the largest N rows', async () => {
    const cmd = `${exe} getppid 4; ${exe} lseek 1 2 3; ${exe} close 2`;
    const all = await runCli(['tracepoint:syscalls:sys_enter_*', '--comm', COMM, '--count', '-c', cmd]);
    const top = await runCli(['tracepoint:syscalls:sys_enter_*', '--comm', COMM, '--count', '--top', '2', '-c', cmd]);
    expect(all.code).toBe(0);
    const rows = all.stdout.trim().split('\n');
    expect(rows.length).toBeGreaterThan(3);
    expect(top.stdout.trim().split('\n')).toEqual(rows.slice(0, 3));
    const json = await runCli(['tracepoint:syscalls:sys_enter_*', '--comm', COMM, '--count', '--top', '1', '--json', '-c', cmd]);
    expect(JSON.parse(json.stdout).counts).toHaveLength(1);
  });

  test('--time: ms, us, ns, rel (seconds since tracing began) and none', async () => {
    const line = async (time: string) => (await runCli(['--syscall', 'lseek', '--comm', COMM, '--time', time, '-c', `${exe} lseek 4`])).stdout.trim();
    expect(await line('ms')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} kn_flags \d+ fd=/);
    expect(await line('us')).toMatch(/^\d\d:\d\d:\d\d\.\d{6} kn_flags /);
    expect(await line('ns')).toMatch(/^\d\d:\d\d:\d\d\.\d{9} kn_flags /);
    expect(await line('none')).toMatch(/^kn_flags \d+ fd=\d+ offset=4 whence=0$/);
    const rel = /^(\d+)\.(\d{6}) kn_flags /.exec(await line('rel'));
    expect(rel).not.toBeNull();
    // The command starts after the probes are attached and ends within seconds.
    expect(Number(rel![1])).toBeLessThan(10);
    const bad = await runCli(['--syscall', 'lseek', '--time', 'hours']);
    expect(bad.code).toBe(2);
  });

  test('the tracer leaves its own syscalls out, in the kernel; --include-self keeps them', async () => {
    const run = async (extra: string[]) => {
      const cli = new Child(process.execPath, [cliPath, '--tracepoint', 'raw_syscalls:sys_enter', '--count', 'by=pid', '--json', '--duration', '1.5', ...extra]);
      expect((await cli.exited).code).toBe(0);
      return { pid: cli.pid, keys: (JSON.parse(cli.stdout).counts as Array<{ key: number; count: number }>).map((c) => c.key) };
    };
    const without = await run([]);
    expect(without.keys.length).toBeGreaterThan(0);
    expect(without.keys).not.toContain(without.pid);
    const withSelf = await run(['--include-self']);
    expect(withSelf.keys).toContain(withSelf.pid);
  });

  test('from the API: excludeSelf drops this process\'s own calls in the kernel', async () => {
    const count = async (excludeSelf: boolean) => {
      const c = countBy('syscall:close', { by: 'pid', excludeSelf, filter: 'fd == 987654' });
      // Each fails with EBADF, after the kernel saw it.
      for (let i = 0; i < 5; i++) expect(() => fs.closeSync(987654)).toThrow(/EBADF/);
      c.close();
      return c.snapshot().find((e) => e.key === process.pid)?.count;
    };
    expect(await count(false)).toBe(5);
    expect(await count(true)).toBeUndefined();
  });

  test.each([
    [['--ring-size', '3000'], 'kprobe-node: --ring-size must be a power of two from 4096 to 1073741824, got 3000'],
    [['--string-size', '0'], 'kprobe-node: --string-size must be an integer from 1 to 4096, got 0'],
    [['--max-counts', '0', '--count'], 'kprobe-node: --max-counts must be an integer from 1 to 16777216, got 0'],
    [['--hist', 'ret', '--log-linear', '9'], 'kprobe-node: --log-linear must be an integer from 0 to 5 (each power of two split into 2^--log-linear buckets), got 9'],
    [['--hist', 'ret', '--linear', '0,10,0'], 'kprobe-node: --linear: the step must be positive, got 0'],
    [['--latency', '--by', 'uid'], 'kprobe-node: --by takes comm or pid for histograms, got "uid"'],
  ])('%j: the error names the flag as given', async (args, message) => {
    const r = await runCli(['--syscall', 'read', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(message + '\n');
  });

  test("out-parameters: read's buf is a pointer (the kernel has not filled it at entry), buf:string reads it; write-like strings stay", async () => {
    const r = await runCli(['--syscall', 'read', '--comm', COMM, '-c', `${exe} read 2`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').filter((l) => l.includes(' fd='));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/ buf=0x[0-9a-f]+ count=\d+$/);
    const asString = await runCli(['--syscall', 'read', '--comm', COMM, '--arg', 'count', '--arg', 'buf:string', '-c', `${exe} read 1`]);
    expect(asString.stdout).toMatch(/count=16 buf="/);
    const opens = await runCli(['--syscall', 'openat', '--comm', COMM, '-c', `${exe} read 1`]);
    expect(opens.stdout).toMatch(/filename="\/dev\/zero"/);
  });
});
