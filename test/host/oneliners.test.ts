/**
 * The README's table of bpftrace one-liners and BCC tools, run: each row
 * marked `host` is run here exactly as written (with a workload to watch, and
 * an end: -c, --duration or Ctrl-C), its output checked. Rows marked `VM` need
 * kprobes and run in test/kernel/oneliners.test.ts. A row without a test, or a
 * test without a row, fails.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeHost, repoRoot } from '../helpers/host';
import { KnSys, knsys } from '../helpers/knsys';
import { OneLiner, oneLiners } from '../helpers/oneliners';
import { Child, RunResult, cliPath, runCli } from '../helpers/proc';

jest.setTimeout(60000);

const COMM = 'kn_oneliners';
/** The pid the README's examples use; a test puts its workload's in its place. */
const README_PID = '18644';

/** The row's command with the pid it shows replaced by `pid`. */
function withPid(argv: string[], pid: number): string[] {
  return argv.map((a) => (a === README_PID ? String(pid) : a));
}

/** Runs the CLI against a paused workload: attach (-v says when), let the workload run, then Ctrl-C. */
async function aroundWorkload(exe: string, work: string[], argv: (pid: number) => string[]): Promise<RunResult> {
  const w = new KnSys(exe, work);
  try {
    const pid = await w.ready();
    const cli = new Child(process.execPath, [cliPath, ...argv(pid), '-v']);
    await cli.waitFor(/this process \(pid \d+\) is (left out|traced too)/, 20000, 'stderr');
    await w.go();
    await new Promise((r) => setTimeout(r, 300));
    cli.kill('SIGINT');
    const { code, signal } = await cli.exited;
    return { code, signal, stdout: cli.stdout, stderr: cli.stderr };
  } finally {
    w.kill();
  }
}

type Check = (row: OneLiner, exe: string) => Promise<void>;

/** How each host row of the table is run and what it must print, by its kprobe-node command. */
const HOST: Record<string, Check> = {
  "kprobe-node -l 'tracepoint:syscalls:sys_enter_*'": async (row) => {
    const r = await runCli(row.argv);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines) expect(l).toMatch(/^tracepoint:syscalls:sys_enter_\w+$/);
    expect(lines).toContain('tracepoint:syscalls:sys_enter_openat');
  },
  'kprobe-node tracepoint:syscalls:sys_enter_openat --arg filename': async (row, exe) => {
    const r = await runCli([...row.argv, '--comm', COMM, '-c', `${exe} read 1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${COMM} \\d+ filename="/dev/null"\\n\\d\\d:\\d\\d:\\d\\d ${COMM} \\d+ filename="/dev/zero"$`, 'm'));
  },
  'kprobe-node tracepoint:raw_syscalls:sys_enter --count': async (row, exe) => {
    const r = await runCli([...row.argv, '-c', `${exe} getppid 100`]);
    expect(r.code).toBe(0);
    const mine = new RegExp(`^ +(\\d+)  tracepoint:raw_syscalls:sys_enter ${COMM}$`, 'm').exec(r.stdout);
    expect(Number(mine?.[1])).toBeGreaterThanOrEqual(100);
    expect(r.stdout.split('\n')[0]).toBe(`${'COUNT'.padStart(10)}  PROBE COMM`);
  },
  'kprobe-node tracepoint:syscalls:sys_exit_read --hist ret -p 18644': async (row, exe) => {
    const r = await aroundWorkload(exe, ['read', '5'], (pid) => withPid(row.argv, pid));
    expect(r.code).toBe(0);
    // Its 16-byte reads, and the one byte from stdin that let it go.
    expect(r.stdout).toMatch(/^tracepoint:syscalls:sys_exit_read ret:\n\[1, 2\) +1 \|@+ +\|\n(\[\d+, \d+\) +0 .*\n){3}\[16, 32\) +5 \|@+\|\np50 ~ /);
  },
  "kprobe-node 'tracepoint:sched:sched*' --count --duration 5": async (row) => {
    const r = await runCli(row.argv, { timeoutMs: 30000 });
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').slice(1);
    expect(rows.length).toBeGreaterThan(0);
    for (const l of rows) expect(l).toMatch(/^ +\d+ {2}tracepoint:sched:sched\w+$/);
    expect(r.stdout).toMatch(/tracepoint:sched:sched_switch$/m);
  },
  'kprobe-node profile:hz:99 --stack kernel --count': async (row) => {
    const r = await runCli([...row.argv, '--duration', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +\d+ {2}\S+ profile:hz:99$/m);
    expect(r.stdout).toMatch(/^ {4}[a-z_][\w.]*\+0x[0-9a-f]+$/m);
  },
  'kprobe-node tracepoint:sched:sched_switch --stack kernel --count': async (row) => {
    const r = await runCli([...row.argv, '--duration', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +\d+ {2}\S+ tracepoint:sched:sched_switch$/m);
    // The tracepoint is hit in the scheduler: its kernel stack says so.
    expect(r.stdout).toMatch(/^ {4}__schedule\+0x[0-9a-f]+$/m);
  },
  'kprobe-node tracepoint:block:block_rq_issue --hist bytes': async (row) => {
    // Direct writes of 4 KiB to a file on a disk each issue one request of 4096 bytes.
    const dir = fs.mkdtempSync(path.join(repoRoot, 'dist', 'kn-block-'));
    try {
      const file = path.join(dir, 'f');
      const r = await runCli([...row.argv, '-c', `dd if=/dev/zero of=${file} bs=4096 count=8 oflag=direct status=none`]);
      expect(r.code).toBe(0);
      const bucket = /^\[4K, 8K\) +(\d+) \|/m.exec(r.stdout);
      expect(Number(bucket?.[1])).toBeGreaterThanOrEqual(8);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  "kprobe-node 'tracepoint:syscalls:sys_enter_*' --count": async (row, exe) => {
    const r = await runCli([...row.argv, '--comm', COMM, '-c', `${exe} getppid 7`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +7 {2}tracepoint:syscalls:sys_enter_getppid$/m);
  },
  'kprobe-node uprobe:libc:malloc --count by=arg0:u64 -p 18644': async (row, exe) => {
    const r = await aroundWorkload(exe, ['malloc', '100', '100', '100', '5000', '5000'], (pid) => withPid(row.argv, pid));
    expect(r.code).toBe(0);
    // The probe is named by the library found: uprobe:/usr/lib/.../libc.so.6:malloc.
    expect(r.stdout).toMatch(/^ +3 {2}uprobe:\S+libc\S*:malloc 100$/m);
    expect(r.stdout).toMatch(/^ +2 {2}uprobe:\S+libc\S*:malloc 5000$/m);
  },
  'kprobe-node profile:hz:99 --stack both --count -p 18644': async (row, exe) => {
    const r = await aroundWorkload(exe, ['spin', '1'], (pid) => withPid(row.argv, pid));
    expect(r.code).toBe(0);
    // The busy loop tops it: the first stack's innermost frame.
    expect(r.stdout).toMatch(new RegExp(`^ +\\d+ {2}${COMM} profile:hz:99\\n {4}kn_spin_loop\\+0x`));
  },
};

describeHost('the README\'s bpftrace and BCC one-liners', { root: true, tracefs: true, tools: ['gcc', 'dd'] }, () => {
  const rows = oneLiners();
  let exe: string;
  beforeAll(() => {
    exe = knsys(COMM);
  });

  test('the table is there, and every host row has a test here (and every test a row)', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    const host = rows.filter((r) => r.where === 'host').map((r) => r.command);
    expect(Object.keys(HOST).sort()).toEqual([...host].sort());
  });

  for (const row of oneLiners().filter((r) => r.where === 'host')) {
    test(`${row.what}: ${row.command}`, async () => {
      const check = HOST[row.command];
      expect(check).toBeDefined();
      await check(row, exe);
    });
  }
});
