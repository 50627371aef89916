/**
 * Patterns everywhere: tracepoint globs and syscall globs, streamed and
 * summarised per tracepoint or syscall in the kernel (each is a part of the
 * probe, with its own id). The syscall counts of a command are checked
 * against strace's.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countBy } from '../../lib';
import { describeHost } from '../helpers/host';
import { KnSys, knsys } from '../helpers/knsys';
import { runCli } from '../helpers/proc';

jest.setTimeout(120000);

const COMM = 'kn_patterns';
const LS = 'kn_pattern_ls'; // a copy of ls under a name of its own

/** strace -c's table: calls per syscall. */
function straceCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    // % time  seconds  usecs/call  calls  [errors]  syscall
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m && m[2] !== 'total') out.set(m[2], Number(m[1]));
  }
  return out;
}

describeHost('patterns', { root: true, tracefs: true, tools: ['gcc', 'strace', 'ls'] }, () => {
  let exe: string;
  let dir: string;
  let ls: string;
  beforeAll(() => {
    exe = knsys(COMM);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-patterns-'));
    ls = path.join(dir, LS);
    fs.copyFileSync(execFileSync('sh', ['-c', 'command -v ls']).toString().trim(), ls);
    fs.chmodSync(ls, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("--count over tracepoint:syscalls:sys_enter_* while a command runs: strace -c -f's counts, within a few calls", async () => {
    const r = await runCli(['tracepoint:syscalls:sys_enter_*', '--count', '--comm', LS, '--json', '-c', `${ls} /`]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{')) as string);
    expect(json.by).toBe('probe');
    const ours = new Map<string, number>(json.counts.map((c: { probe: string; count: number }) => [c.probe.replace('tracepoint:syscalls:sys_enter_', ''), c.count]));
    const out = path.join(dir, 'strace.txt');
    execFileSync('strace', ['-c', '-f', '-o', out, ls, '/'], { stdio: 'pipe' });
    const theirs = straceCounts(fs.readFileSync(out, 'utf8'));
    // ls opens, reads, closes and maps files: the common ones must be there.
    for (const name of ['openat', 'read', 'close', 'mmap']) {
      expect([name, ours.get(name) ?? 0]).toEqual([name, expect.any(Number)]);
      expect(ours.get(name)).toBeGreaterThan(0);
    }
    // execve runs before the command's comm is its own; everything else agrees within a few calls.
    for (const [name, calls] of theirs) {
      if (name === 'execve') continue;
      expect([name, Math.abs((ours.get(name) ?? 0) - calls) <= 3]).toEqual([name, true]);
    }
    for (const [name, calls] of ours) expect([name, Math.abs((theirs.get(name) ?? 0) - calls) <= 3]).toEqual([name, true]);
  });

  test('a tracepoint glob streams each event under its own tracepoint, with its own fields', async () => {
    const r = await runCli(['tracepoint:sched:sched_process_e*', '--comm', LS, '-c', `${ls} /`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^kprobe-node: sched:sched_process_e\*: attached \d+ of \d+ tracepoints, 0 skipped$/m);
    // exec has filename=, exit has prio=: each part decodes its own format.
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${LS} \\d+ tracepoint:sched:sched_process_exec filename="${ls}" pid=\\d+ old_pid=\\d+$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${LS} \\d+ tracepoint:sched:sched_process_exit comm="${LS}" pid=\\d+ prio=\\d+`, 'm'));
  });

  test('a syscall glob: syscall:*seek* streams lseek events named syscall:lseek', async () => {
    const r = await runCli(['syscall:*seek*', '--comm', COMM, '-c', `${exe} lseek 11 12`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${COMM} \\d+ syscall:lseek fd=\\d+ offset=11 whence=0$`)),
      expect.stringMatching(/ syscall:lseek fd=\d+ offset=12 whence=0$/),
    ]);
  });

  test('--latency over a syscall pattern: one histogram per syscall, each entry paired with its own return', async () => {
    const r = await runCli(['syscall:*nanosleep', '--latency', '--comm', COMM, '--json', '-c', `${exe} nanosleep 2000000 2000000 2000000`]);
    expect(r.code).toBe(0);
    const snap = JSON.parse(r.stdout);
    expect(snap.probe).toBe('syscall:*nanosleep');
    expect(snap.total).toBe(3);
    // Only nanosleep was called: its group holds all three, named as the entry is.
    expect(snap.groups.map((g: { probe: string; snapshot: { total: number } }) => [g.probe, g.snapshot.total])).toEqual([['syscall:nanosleep', 3]]);
    expect(snap.groups[0].snapshot.buckets[0].low).toBeGreaterThanOrEqual(2 ** 20);
  });

  test('--hist over a pattern: a histogram per syscall that has the field; the others are skipped and said so', async () => {
    const r = await runCli(['tracepoint:syscalls:sys_enter_*', '--hist', 'offset', '--comm', COMM, '-c', `${exe} lseek 100 200 300`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^kprobe-node: warning: \d+ of \d+ tracepoints could not be attached and were skipped/m);
    expect(r.stdout).toMatch(/^tracepoint:syscalls:sys_enter_lseek offset:\n\[64, 128\) +1 \|@+ *\|\n\[128, 256\) +1 \|@+ *\|\n\[256, 512\) +1 \|@+ *\|\n/m);
  });

  test('countBy over a pattern from the API: by probe by default, each entry naming its part', async () => {
    const w = new KnSys(exe, ['getppid', '6']);
    try {
      const pid = await w.ready();
      const c = countBy('tracepoint:syscalls:sys_enter_get*', { pid });
      await w.go();
      c.close();
      expect(c.by).toBe('probe');
      expect(c.snapshot().map((e) => [e.probe, e.count])).toEqual([['tracepoint:syscalls:sys_enter_getppid', 6]]);
    } finally {
      w.kill();
    }
  });
});
