/**
 * The README's `kprobe-node` command lines that no other test runs, run as
 * written (found with readmeExample, so that a change to the README changes
 * what runs): the first example, the filter, counts, histograms, a folded
 * stack count, `types --kernel` and pinning. Only placeholders are replaced: a
 * pid (`1234`, `4242`) by a process of the test's, `app` by a command. Where
 * the README shows output, the run must print it (numbers aside); where it
 * shows none, the run must have traced what the test made happen.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { interrupt, startAttached } from '../helpers/cli';
import { describeHost } from '../helpers/host';
import { Child, cliPath, runCli, sleep, until } from '../helpers/proc';
import { linePattern, readmeExample, unmatched } from '../helpers/readme';

jest.setTimeout(120_000);

/** A histogram the CLI printed: the rows after `header` up to its percentile line, and that line. */
function histogram(out: string, header: string): { rows: Array<[string, number]>; summary: string } {
  const lines = out.split('\n');
  const at = lines.indexOf(header);
  if (at < 0) throw new Error(`no histogram "${header}" in:\n${out}`);
  const rows: Array<[string, number]> = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^(\[[^)\]]*[)\]])\s+(\d+) \|[@ ]*\|$/.exec(l);
    if (!m) return { rows, summary: l };
    rows.push([m[1], Number(m[2])]);
  }
  return { rows, summary: '' };
}

const total = (rows: Array<[string, number]>) => rows.reduce((a, [, n]) => a + n, 0);

/** A bash that runs `loop` forever (the README's placeholder pid stands for it). */
function bashLoop(loop: string): Child {
  return new Child('bash', ['-c', `while :; do ${loop}; done`]);
}

describeHost("the README's command lines", { root: true, tracefs: true, tools: ['bash', 'cat', 'touch', 'dd', 'sleep', 'bpftool'] }, () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-readme-cmd-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the first example: cat, its opens, the summary', async () => {
    const example = readmeExample("--syscall openat --comm cat -c 'cat /etc/hostname'");
    const r = await runCli(example.args);
    expect(r.code).toBe(0);
    // What cat printed is this machine's hostname, where the README shows its VM's.
    const event = /^\d\d:\d\d:\d\d |^kprobe-node: /;
    expect(example.output.filter((l) => l !== '' && !event.test(l))).toHaveLength(1);
    const hostname = fs.readFileSync('/etc/hostname', 'utf8').trim();
    const shown = example.output.map((l) => (l === '' || event.test(l) ? l : hostname)).join('\n');
    expect(unmatched(shown, r.stdout + r.stderr)).toEqual([]);
  });

  test("the filter: touch's O_CREAT open shows; cat's opens, and sh's O_CREAT one, do not", async () => {
    const example = readmeExample("--syscall openat --filter 'flags & 0x40");
    expect(example.args).toEqual(['--syscall', 'openat', '--filter', 'flags & 0x40 && comm == "touch"']);
    const cli = await startAttached(example.args);
    const touched = path.join(dir, 'touched');
    const other = path.join(dir, 'by-sh');
    execFileSync('sh', ['-c', `: > ${other}`]);
    execFileSync('cat', [other, '/etc/hostname'], { stdio: 'ignore' });
    execFileSync('touch', [touched]);
    await cli.waitFor(new RegExp(`filename="${touched}"`));
    expect(await interrupt(cli)).toBe(0);
    const events = cli.stdout.split('\n').filter(Boolean);
    expect(events).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d touch \\d+ dfd=-100 filename="${touched}" flags=\\S*O_CREAT`)));
    for (const e of events) expect(e).toMatch(/^\d\d:\d\d:\d\d touch \d+ .*flags=\S*O_CREAT/);
    expect(cli.stdout).not.toContain(other);
  });

  test('--count: opens by comm, cat among them', async () => {
    const example = readmeExample('--syscall openat --count');
    expect(example.args).toEqual(['--syscall', 'openat', '--count']);
    const cli = await startAttached(example.args);
    for (let i = 0; i < 3; i++) execFileSync('cat', ['/etc/hostname'], { stdio: 'ignore' });
    expect(await interrupt(cli)).toBe(0);
    expect(cli.stdout).toMatch(/^ +COUNT {2}PROBE COMM$/m);
    const cat = /^ *(\d+) {2}syscall:openat cat$/m.exec(cli.stdout);
    expect(cat).not.toBeNull();
    // Each cat opens the loader's cache, libc and the file at least.
    expect(Number(cat![1])).toBeGreaterThanOrEqual(9);
  });

  test('--count by=flags: opens by their flags, named', async () => {
    const example = readmeExample('--syscall openat --count by=flags');
    expect(example.args).toEqual(['--syscall', 'openat', '--count', 'by=flags']);
    const cli = await startAttached(example.args);
    const file = path.join(dir, 'created');
    execFileSync('sh', ['-c', `: > ${file}`]);
    expect(await interrupt(cli)).toBe(0);
    expect(cli.stdout).toMatch(/^ +COUNT {2}PROBE FLAGS$/m);
    expect(cli.stdout).toMatch(/^ *[1-9]\d* {2}syscall:openat O_WRONLY\|O_CREAT\|O_TRUNC$/m);
  });

  test('--latency -c: the two sleeps, two values in two buckets', async () => {
    const example = readmeExample('--syscall clock_nanosleep --latency -c');
    const r = await runCli(example.args);
    expect(r.code).toBe(0);
    const [header, ...rest] = example.output.filter(Boolean);
    const h = histogram(r.stdout, header);
    expect(total(h.rows)).toBe(2);
    expect(h.summary).toMatch(linePattern(rest[rest.length - 1]));
    expect(h.summary).toMatch(/, 2 values$/);
    // 3 ms and 20 ms, each in a bucket of its own.
    expect(h.rows.filter(([, n]) => n === 1)).toHaveLength(2);
  });

  test('--hist ret: the size a read returned, in its log2 bucket', async () => {
    const example = readmeExample('--syscall read --hist ret');
    expect(example.args).toEqual(['--syscall', 'read', '--hist', 'ret']);
    const file = path.join(dir, 'read-3000');
    fs.writeFileSync(file, Buffer.alloc(3000, 'x'));
    const cli = await startAttached(example.args);
    execFileSync('dd', [`if=${file}`, 'of=/dev/null', 'bs=3000', 'count=1', 'status=none']);
    expect(await interrupt(cli)).toBe(0);
    const h = histogram(cli.stdout, 'syscall:read:return ret:');
    expect(h.rows.find(([b]) => b === '[2K, 4K)')?.[1]).toBeGreaterThanOrEqual(1);
    expect(h.summary).toMatch(/\(estimated from log2 buckets: within a factor of 2\), \d+ values$/);
  });

  test("uprobe:libc:malloc --hist arg0 --pid: a bash's mallocs", async () => {
    const example = readmeExample('uprobe:libc:malloc --hist arg0 --pid');
    expect(example.args).toEqual(['uprobe:libc:malloc', '--hist', 'arg0', '--pid', '1234']);
    const bash = bashLoop('echo x; sleep 0.02');
    try {
      const cli = await startAttached(example.args.map((a) => (a === '1234' ? String(bash.pid) : a)));
      await sleep(500);
      expect(await interrupt(cli)).toBe(0);
      const header = cli.stdout.split('\n')[0];
      expect(header).toMatch(/^uprobe:\/\S*libc\.so\.6:malloc arg0:$/);
      const h = histogram(cli.stdout, header);
      expect(total(h.rows)).toBeGreaterThan(0);
      expect(h.summary).toMatch(new RegExp(`, ${total(h.rows)} values$`));
    } finally {
      bash.kill();
    }
  });

  test('--linear: the offset dd seeks to, in its 200-wide bucket', async () => {
    const example = readmeExample('--syscall lseek --hist offset --linear');
    const file = path.join(dir, 'seek-1000');
    fs.writeFileSync(file, Buffer.alloc(1000, 'x'));
    const app = `dd if=${file} of=/dev/null bs=1 skip=500 count=1 status=none`;
    const r = await runCli(example.args.map((a) => (a === 'app' ? app : a)));
    expect(r.code).toBe(0);
    const h = histogram(r.stdout, 'syscall:lseek offset:');
    expect(h.rows.find(([b]) => b === '[400, 600)')?.[1]).toBe(1);
    expect(h.summary).toMatch(/\(estimated from linear buckets: within ±200\), \d+ values$/);
  });

  test('--latency --log-linear 3 --by comm: a histogram for sleep', async () => {
    const example = readmeExample('--syscall clock_nanosleep --latency --log-linear');
    expect(example.args).toEqual(['--syscall', 'clock_nanosleep', '--latency', '--log-linear', '3', '--by', 'comm']);
    const cli = await startAttached(example.args);
    execFileSync('sleep', ['0.01']);
    execFileSync('sleep', ['0.02']);
    expect(await interrupt(cli)).toBe(0);
    const h = histogram(cli.stdout, 'syscall:clock_nanosleep comm sleep latency:');
    expect(total(h.rows)).toBe(2);
    expect(h.summary).toMatch(/\(estimated from log-linear buckets: within ±12\.5%\), 2 values$/);
  });

  test('--count --stack --folded --pid: the stacks of a bash writing, folded', async () => {
    const example = readmeExample('--syscall write --count --stack --folded --pid');
    expect(example.args).toEqual(['--syscall', 'write', '--count', '--stack', '--folded', '--pid', '4242', '--duration', '10']);
    const bash = bashLoop('echo x; sleep 0.05');
    try {
      const r = await runCli(example.args.map((a) => (a === '4242' ? String(bash.pid) : a)), { timeoutMs: 40_000 });
      expect(r.code).toBe(0);
      // What goes to out.folded: `comm;outermost;...;innermost count` lines, nothing else.
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatch(/^bash(;[^;\n]+)+ \d+$/);
      // Kernel frames are marked; the count is that of ten seconds of writes.
      expect(lines.some((l) => l.includes('_[k]'))).toBe(true);
      expect(lines.reduce((a, l) => a + Number(l.split(' ').pop()), 0)).toBeGreaterThanOrEqual(50);
    } finally {
      bash.kill();
    }
  });

  test('types --kernel: both functions declared, typed from the BTF', async () => {
    const example = readmeExample('types --kernel');
    expect(example.args).toEqual(['types', '--kernel', 'vfs_read', 'tcp_sendmsg', '-o', 'kernel.d.ts']);
    const cli = new Child(process.execPath, [cliPath, ...example.args], { cwd: dir });
    expect((await cli.exited).code).toBe(0);
    const dts = fs.readFileSync(path.join(dir, 'kernel.d.ts'), 'utf8');
    expect(dts).toContain('interface KernelFunctions {');
    // What the README says the file gives attachKprobe('vfs_read') and attachKretprobe('vfs_read').
    expect(dts).toMatch(/ {4}vfs_read: \{\n {6}args: \{ file: bigint; buf: bigint; count: bigint; pos: bigint; \};\n {6}ret: bigint;\n/);
    expect(dts).toMatch(/ {4}tcp_sendmsg: \{\n {6}args: \{ sk: bigint; msg: bigint; size: bigint; \};/);
  });

  test('pinning: pin, list, read from another process, unpin', async () => {
    const pin = readmeExample('--syscall openat --comm bash --pin opens');
    const pinned = readmeExample('pinned');
    const attach = readmeExample('attach-pinned opens');
    const unpin = readmeExample('unpin opens');
    expect([pinned.args, attach.args, unpin.args]).toEqual([['pinned'], ['attach-pinned', 'opens'], ['unpin', 'opens']]);
    await runCli(unpin.args); // a pin a failed run left behind
    const where = '/sys/fs/bpf/kprobe-node/opens';
    try {
      // Pinned: it keeps tracing after the command ends.
      const p = await runCli(pin.args);
      expect(p.code).toBe(0);
      expect(p.stderr).toMatch(/pinned as opens/);
      expect(fs.existsSync(where)).toBe(true);

      // What is pinned, and what it traces.
      const l = await runCli(pinned.args);
      expect(l.code).toBe(0);
      expect(l.stdout).toMatch(/^opens {2}syscall:openat --comm "bash"\n {4}tracepoint syscalls:sys_enter_openat; 1 of 1 links pinned; since \S+ \(pid \d+\)$/m);

      // Its events, read by another process: bash opening a file of the test's.
      const file = path.join(dir, 'opened-by-bash');
      fs.writeFileSync(file, '');
      const reader = new Child(process.execPath, [cliPath, ...attach.args]);
      const seen = new RegExp(`^\\d\\d:\\d\\d:\\d\\d bash \\d+ dfd=-100 filename="${file}" flags=O_RDONLY`, 'm');
      const saw = await until(() => {
        if (reader.proc.exitCode !== null) return true;
        spawn('bash', ['-c', `: < ${file}`], { stdio: 'ignore' });
        return seen.test(reader.stdout);
      }, 15_000, 300);
      expect(saw && seen.test(reader.stdout)).toBe(true);
      expect(await interrupt(reader)).toBe(0);
      expect(reader.stderr).toMatch(/opens stays pinned/);

      // Detached and removed.
      const u = await runCli(unpin.args);
      expect(u.code).toBe(0);
      expect(fs.existsSync(where)).toBe(false);
      expect((await runCli(pinned.args)).stdout).not.toMatch(/^opens /m);
    } finally {
      await runCli(unpin.args);
    }
  });
});
