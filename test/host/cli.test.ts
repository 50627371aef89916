/**
 * The CLI as users run it: `node dist/lib/cli/main.js ...` in a child process. The
 * traced commands run under a copy of sync with a name of their own, so that
 * a --comm filter sees exactly them and nothing that parallel tests run.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeHost, ownCgroupDir } from '../helpers/host';
import { Child, cliPath, runCli, sleep } from '../helpers/proc';

jest.setTimeout(30000);

const TP = 'syscalls:sys_enter_syncfs';
const COMM = 'kn_cli_sync'; // a copy of sync under this name
const kernelHasKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe/type');
const SUMMARY = /^kprobe-node: (\d+) events, (\d+) lost$/m;

describeHost('kprobe-node CLI', { root: true, tracefs: true, tools: ['sync'] }, () => {
  let dir: string;
  let syncCopy: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-cli-'));
    syncCopy = path.join(dir, COMM);
    const which = ['/usr/bin/sync', '/bin/sync'].find((p) => fs.existsSync(p));
    if (!which) throw new Error('no sync binary');
    fs.copyFileSync(which, syncCopy);
    fs.chmodSync(syncCopy, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const syncs = (n: number) => Array(n).fill(`${syncCopy} --file-system /`).join('; ');

  test('-c: one line per event with the time, comm, pid and fd=', async () => {
    const r = await runCli(['--tracepoint', TP, '--comm', COMM, '-c', syncs(1)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const m = /^(\d\d):(\d\d):(\d\d) (\S+) (\d+) fd=(\d+)$/.exec(lines[0]);
    expect(m).not.toBeNull();
    const [, hh, mm, ss, comm, pid] = m as RegExpExecArray;
    expect(comm).toBe(COMM);
    expect(Number(pid)).toBeGreaterThan(1);
    // The wall clock, give or take the run.
    const t = new Date();
    t.setHours(Number(hh), Number(mm), Number(ss));
    const day = 86_400_000;
    const off = (((Date.now() - t.getTime()) % day) + day) % day; // midnight-safe
    expect(Math.min(off, day - off)).toBeLessThan(60_000);
    expect(r.stderr).toMatch(SUMMARY);
    expect(SUMMARY.exec(r.stderr)?.slice(1)).toEqual(['1', '0']);
  });

  test('-c: plain words run directly, shell syntax under /bin/sh, an unknown command is an error', async () => {
    // cat is the CLI's own child: no shell in between (field 4 of stat is the parent's pid).
    const direct = new Child(process.execPath, [cliPath, '--tracepoint', TP, '--comm', COMM, '-c', 'cat /proc/self/stat']);
    expect((await direct.exited).code).toBe(0);
    expect(Number(direct.stdout.split(') ')[1].split(' ')[1])).toBe(direct.pid);

    const shell = await runCli(['--tracepoint', TP, '--comm', COMM, '-c', `${syncCopy} --file-system / && echo "through $0"`]);
    expect(shell.code).toBe(0);
    expect(shell.stdout).toMatch(/^through \/bin\/sh$/m);
    expect(SUMMARY.exec(shell.stderr)?.slice(1)).toEqual(['1', '0']);

    const missing = await runCli(['--tracepoint', TP, '-c', 'kn-no-such-command --flag']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^kprobe-node: cannot run -c command: spawn kn-no-such-command ENOENT$/m);
  });

  test('--json: one parseable object per line with every field', async () => {
    const before = Date.now();
    const r = await runCli(['--tracepoint', TP, '--comm', COMM, '--json', '-c', syncs(2)]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toHaveLength(2);
    for (const ev of events) {
      expect(ev).toEqual({
        time: expect.any(String),
        ns: expect.stringMatching(/^\d+$/),
        probe: `tracepoint:${TP}`,
        cpu: expect.any(Number),
        pid: expect.any(Number),
        tid: expect.any(Number),
        uid: 0,
        comm: COMM,
        // The test runs in the root cgroup or a service's; on the host, no hostPid (it is pid).
        cgroupId: fs.statSync(ownCgroupDir()).ino,
        args: { fd: expect.any(Number) },
      });
      expect(ev.tid).toBe(ev.pid);
      expect(Date.parse(ev.time)).toBeGreaterThanOrEqual(before - 50);
      expect(Date.parse(ev.time)).toBeLessThanOrEqual(Date.now());
    }
    // Two processes, in order.
    expect(events[0].pid).not.toBe(events[1].pid);
    expect(BigInt(events[0].ns) < BigInt(events[1].ns)).toBe(true);
  });

  test('--count: a table of counts instead of events', async () => {
    const r = await runCli(['--tracepoint', TP, '--comm', COMM, '--count', '-c', syncs(3)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${'COUNT'.padStart(10)}  PROBE COMM\n${'3'.padStart(10)}  tracepoint:${TP} ${COMM}\n`);
  });

  test.each([
    [['--bogus'], /bogus/],
    [['--tracepoint', TP, '--pid', '-1'], /pid/],
    [['--tracepoint', TP, '--pid', 'abc'], /pid/],
    [['--tracepoint', TP, '--comm', 'a-very-long-command'], /comm/],
    [['--tracepoint', 'sched_switch'], /category:name/],
    [['--tracepoint', TP, '--duration', '0'], /duration/],
    [['foo:bar:baz'], /unknown probe type/],
    [[], /nothing to trace/],
  ])('bad options %j: exit 2 and one line on stderr', async (args, reason) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^kprobe-node: [^\n]+\n$/);
    expect(r.stderr).toMatch(reason);
  });

  test('an unknown tracepoint: exit 1 with a suggestion', async () => {
    const r = await runCli(['--tracepoint', 'sched:sched_swich', '--duration', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kprobe-node: [^\n]*did you mean sched:sched_switch[^\n]*\n$/);
  });

  // Where kprobes exist, test/kernel/cli.test.ts checks that it traces.
  (kernelHasKprobes ? test.skip : test)('kprobe-node vfs_read: exit 1, kprobes are unavailable', async () => {
    const r = await runCli(['vfs_read', '--duration', '0.2', '--count']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^kprobe-node: [^\n]*kprobes are not available[^\n]*CONFIG_KPROBES[^\n]*\n$/);
  });

  test('--duration 0.5 ends by itself with exit 0', async () => {
    const start = Date.now();
    const r = await runCli(['--tracepoint', TP, '--comm', COMM, '--duration', '0.5'], { timeoutMs: 15000 });
    const took = Date.now() - start;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(took).toBeGreaterThanOrEqual(500);
    expect(r.stderr).toMatch(SUMMARY);
  });

  test('SIGINT ends it cleanly: the summary on stderr, exit 0', async () => {
    const cli = new Child(process.execPath, [cliPath, '--tracepoint', TP, '--comm', COMM]);
    // Attached once an event shows up.
    for (let i = 0; !/\bfd=/.test(cli.stdout); i++) {
      if (i > 100) throw new Error(`no event from the CLI: ${cli.stderr}`);
      if (cli.proc.exitCode !== null) throw new Error(`the CLI exited ${cli.proc.exitCode}: ${cli.stderr}`);
      execFileSync(syncCopy, ['--file-system', '/']);
      await sleep(100);
    }
    await sleep(100);
    cli.kill('SIGINT');
    const { code, signal } = await cli.exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const m = SUMMARY.exec(cli.stderr);
    expect(m).not.toBeNull();
    const printed = cli.stdout.trim().split('\n').length;
    expect(Number(m![1])).toBe(printed);
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
    expect(m![2]).toBe('0');
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
  });
});
