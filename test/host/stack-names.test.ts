/**
 * Stacks that name every frame, on the real kernel:
 *   - the caller at a function's entry (frame 1), recovered by the BPF program;
 *   - user frames of a process that exited before its event was decoded,
 *     named by build id (a PIE binary);
 *   - stacks counted in the kernel, folded, their counts summing to the calls;
 *   - JavaScript frames of node from its perf map, and node's C++ frames demangled.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Frame, attachUprobe, countStacks, symbolize } from '../../lib';
import { hasSnapshot } from '../../lib/sys/procfs';
import { collect, waitForEvent } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { buildMulsum, firstInstruction, readelfBuildId } from '../helpers/mulsum';
import { Child, runCli, until } from '../helpers/proc';
import { matchOutput, readmeExample } from '../helpers/readme';

jest.setTimeout(60_000);

const names = (frames: Frame[] | undefined) => (frames ?? []).map((f) => f.symbol);

/** Folded lines (`comm;f;g count`): each line's frames and count; fails on a line that is not one. */
function parseFolded(text: string): Array<{ frames: string[]; count: number }> {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const m = /^(\S[^;]*(?:;[^;]+)*) (\d+)$/.exec(line);
      if (!m) throw new Error(`not a folded stack line: ${JSON.stringify(line)}`);
      return { frames: m[1].split(';'), count: Number(m[2]) };
    });
}

describeHost('stacks that name every frame', { root: true, tracefs: true, tools: ['gcc', 'objdump', 'readelf'] }, () => {
  let exe = '';
  const open: Array<{ close(): void }> = [];
  const track = <T extends { close(): void }>(p: T): T => (open.push(p), p);

  beforeAll(() => {
    exe = buildMulsum();
  });
  afterAll(() => fs.rmSync(path.dirname(exe), { recursive: true, force: true }));
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });

  test('the premise: mulsum starts with neither push %rbp nor endbr64 (else the kernel recovers its caller itself)', () => {
    expect(firstInstruction(exe, 'mulsum')).not.toMatch(/push\s+%rbp|endbr64/);
  });

  test('while the process lives: mulsum, caller_fn, main, the caller recovered at entry', async () => {
    const probe = track(attachUprobe(exe, 'mulsum', { stack: 'user' }));
    expect(probe.explain).toMatch(/caller's return address is read at the stack pointer \(\*sp\) and becomes frame 1/);
    const events = collect(probe);
    const child = new Child(exe, ['1', 'wait']);
    try {
      const pid = Number((await child.waitFor(/^pid (\d+)$/m))[1]);
      child.proc.stdin!.write('x');
      await child.waitFor(/^done/m);
      const ev = await waitForEvent(events, (e) => e.pid === pid, 'mulsum');
      expect(fs.existsSync(`/proc/${pid}`)).toBe(true);
      const { user } = symbolize(ev);
      expect(names(user).slice(0, 3)).toEqual(['mulsum', 'caller_fn', 'main']);
      expect(ev.callerAtEntry).toEqual({ kernel: false, user: true });
      expect(user![1]).toMatchObject({ callerAtEntry: true, module: exe });
      expect(user![1].offset).toBeGreaterThan(0);
      expect(user!.filter((f) => f.callerAtEntry)).toHaveLength(1);
    } finally {
      child.proc.stdin!.end();
      await child.exited;
    }
  });

  test('a process that exited before its event was decoded: the same names, from the build id', async () => {
    const probe = track(attachUprobe(exe, 'mulsum', { stack: 'user' }));
    const events = collect(probe);
    // Runs to its end while the event loop is blocked: nothing is decoded (nor any mapping read) before it exits.
    const run = spawnSync(exe, ['1']);
    expect(run.status).toBe(0);
    probe.flush();
    const ev = events.find((e) => e.pid === run.pid);
    expect(ev).toBeDefined();
    expect(fs.existsSync(`/proc/${run.pid}`)).toBe(false);
    expect(hasSnapshot(run.pid)).toBe(false);
    const id = readelfBuildId(exe);
    expect(ev!.userStackFiles?.[0]).toEqual({ buildId: id, offset: expect.any(Number) });
    const { user } = symbolize(ev!);
    expect(names(user).slice(0, 3)).toEqual(['mulsum', 'caller_fn', 'main']);
    expect(user![0]).toMatchObject({ module: exe, offset: 0 });
    expect(user![1]).toMatchObject({ symbol: 'caller_fn', callerAtEntry: true, module: exe });
    // Past main: libc, found by its build id among this process's own libraries.
    expect(user![3]?.module).toMatch(/libc\.so/);
  });

  test('countStacks: counted in the kernel, named after the process is gone, the counts sum to the calls', () => {
    const counter = track(countStacks(`uprobe:${exe}:mulsum`, { stack: 'user' }));
    const run = spawnSync(exe, ['7']);
    expect(run.status).toBe(0);
    const snap = counter.snapshot();
    expect(snap.total).toBe(7);
    expect(snap).toHaveLength(1);
    expect(snap[0]).toMatchObject({ count: 7, comm: 'kn_mulsum' });
    expect(names(snap[0].user).slice(0, 3)).toEqual(['mulsum', 'caller_fn', 'main']);
    expect(snap[0].user![1].callerAtEntry).toBe(true);
    const lines = parseFolded(counter.folded().join('\n'));
    expect(lines).toHaveLength(1);
    expect(lines[0].frames[0]).toBe('kn_mulsum');
    expect(lines[0].frames.slice(-3)).toEqual(['main', 'caller_fn', 'mulsum']);
    expect(lines[0].count).toBe(7);
    counter.reset();
    expect(counter.snapshot().total).toBe(0);
  });

  test('countStacks by pid on a syscall tracepoint: kernel and user stacks, one entry per process', () => {
    const counter = track(countStacks('tracepoint:syscalls:sys_enter_getppid', { stack: 'both', by: 'pid', comm: 'kn_mulsum' }));
    const a = spawnSync(exe, ['3']);
    const b = spawnSync(exe, ['5']);
    const snap = counter.snapshot();
    expect(snap.total).toBe(8);
    expect(snap.map((s) => [s.pid, s.count])).toEqual([[b.pid, 5], [a.pid, 3]]);
    for (const s of snap) {
      expect(names(s.kernel).some((n) => /syscall|entry_SYSCALL/.test(n ?? ''))).toBe(true);
      expect(s.kernel!.every((f) => f.kernel)).toBe(true);
      expect(names(s.user)).toContain('main');
      expect(s.user![0].module).toMatch(/libc\.so/);
    }
    // One folded line per process, kernel frames last and marked.
    const lines = parseFolded(counter.folded().join('\n'));
    expect(lines.map((l) => l.count).reduce((x, y) => x + y, 0)).toBe(8);
    expect(lines[0].frames[lines[0].frames.length - 1]).toMatch(/_\[k\]$/);
  });

  test('CLI --count --stack user --folded: folded lines whose counts sum to the calls', async () => {
    const r = await runCli([`uprobe:${exe}:mulsum`, '--count', '--stack', 'user', '--folded', '-c', `${exe} 9`]);
    expect(r.code).toBe(0);
    const lines = parseFolded(r.stdout);
    expect(lines.reduce((n, l) => n + l.count, 0)).toBe(9);
    expect(lines.map((l) => l.frames.slice(-3))).toEqual([['main', 'caller_fn', 'mulsum']]);
    expect(r.stderr).toMatch(/9 events, 0 lost/);
  });

  test('CLI --stack user --explain marks the frame recovered at entry', async () => {
    const r = await runCli([`uprobe:${exe}:mulsum`, '--stack', 'user', '--explain', '-c', `${exe} 1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ {4}mulsum\\+0x0 \\(${exe}\\)\\n {4}caller_fn\\+0x[0-9a-f]+ \\(${exe}\\) \\[caller at entry\\]\\n {4}main\\+`, 'm'));
    expect(r.stderr).toMatch(/becomes frame 1/);
  });

  test('README: the stacks of kn_mulsum, counted in the kernel, named after it exited', async () => {
    const example = readmeExample('uprobe:./kn_mulsum:mulsum --count --stack user -c');
    const r = await runCli(example.args.map((a) => a.replace('./kn_mulsum', exe)));
    expect(r.code).toBe(0);
    expect(matchOutput(r.stdout + r.stderr, example.output, [['/src/kn_mulsum', exe]])).toEqual({ ok: true });
  });

  test('README: the same, folded', async () => {
    const example = readmeExample('uprobe:./kn_mulsum:mulsum --count --stack user --folded');
    const r = await runCli(example.args.map((a) => a.replace('./kn_mulsum', exe)));
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(example.output);
  });

  test('CLI --folded alone, or --stack with --count by=<expr>, is a clear option error', async () => {
    const a = await runCli([`uprobe:${exe}:mulsum`, '--folded', '-c', `${exe} 1`]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--folded goes with --count --stack/);
    const b = await runCli([`uprobe:${exe}:mulsum`, '--count', 'by=arg0', '--stack', 'user', '-c', `${exe} 1`]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--count --stack counts by comm \(default\) or by=pid/);
  });
});

describeHost('JavaScript frames and demangled C++ frames of node', { root: true, tracefs: true, tools: ['unshare'] }, () => {
  /** README's app.js: a named function writing to stdout every 100 ms. */
  const APP = `const fs = require('fs');
function knWriteMarker() { fs.writeSync(1, 'kn-marker\\n'); }
setInterval(knWriteMarker, 100);
`;
  const NODE_FLAGS = ['--perf-basic-prof', '--interpreted-frames-native-stack'];
  let app = '';

  beforeAll(() => {
    // Not under /tmp: a container of these tests mounts a /tmp of its own.
    app = path.join(fs.mkdtempSync('/var/tmp/kn-app-'), 'app.js');
    fs.writeFileSync(app, APP);
  });
  afterAll(() => fs.rmSync(path.dirname(app), { recursive: true, force: true }));

  /**
   * README's example: node runs app.js naming its JIT code in
   * /tmp/perf-<pid>.map, traced by the CLI with `args` ($! for its pid) until
   * three events are in; the CLI's output and node's pid. `container`: node
   * runs in a pid and mount namespace of its own with a /tmp of its own, so
   * that its map is /tmp/perf-1.map there, reachable only through its root.
   */
  async function traceNode(args: string[], container = false): Promise<{ out: string; pid: number }> {
    // node writes its V8 log (isolate-*-v8.log) where it runs: in the test's folder, removed after.
    const cwd = path.dirname(app);
    // In its namespace node is pid 1, which SIGTERM does not end, and unshare ignores SIGTERM while it
    // waits: SIGKILL ends unshare, and --kill-child ends node with it.
    const child = container
      ? new Child('unshare', ['--pid', '--kill-child', '--mount', '--mount-proc', 'sh', '-c', 'mount -t tmpfs kn-tmp /tmp && exec "$@"', 'sh', process.execPath, ...NODE_FLAGS, app], { cwd })
      : new Child(process.execPath, [...NODE_FLAGS, app], { cwd });
    try {
      await child.waitFor(/kn-marker/, 20_000);
      // In a container, node is the child of unshare's fork.
      const pid = container ? Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim()) : child.pid;
      if (container) expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
      const cli = new Child(process.execPath, [path.join(__dirname, '../../lib/cli/main.js'), ...args.map((a) => (a === '$!' ? String(pid) : a))]);
      try {
        expect(await until(() => (cli.stdout.match(/ fd=1 buf="kn-marker/g) ?? []).length >= 3, 30_000)).toBe(true);
      } finally {
        cli.kill('SIGINT');
        await cli.exited;
      }
      return { out: cli.stdout, pid };
    } finally {
      child.kill(container ? 'SIGKILL' : 'SIGTERM');
      await child.exited;
      fs.rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
    }
  }

  /** The frames of the second event (the first may come before the probe saw the whole map). */
  function secondEvent(out: string): string[] {
    const events = out.split(/\n(?=\S)/).filter((e) => / fd=1 buf="kn-marker\\n"/.test(e));
    expect(events.length).toBeGreaterThanOrEqual(2);
    return events[1].split('\n');
  }

  test("README: a write from a named JavaScript function, the function by name, node's C++ frames demangled", async () => {
    const example = readmeExample('--syscall write --stack user --pid $!');
    const { out, pid } = await traceNode(example.args);
    const nodeFile = fs.realpathSync(process.execPath);
    const names: Array<[string, string]> = [['/usr/bin/node', nodeFile], ['/src/app.js', app], ['4242', String(pid)]];
    expect(matchOutput(out, example.output, names)).toEqual({ ok: true });
    const frames = secondEvent(out).slice(1);
    expect(frames.some((f) => /^ {4}JS:[~^+*]?knWriteMarker /.test(f))).toBe(true);
    // node's C++ frames, demangled: qualified names with their parameter types, none left mangled.
    expect(frames.some((f) => /^ {4}node::\S.*\(.*v8::FunctionCallbackInfo<v8::Value> const&\)\+0x/.test(f))).toBe(true);
    expect(frames.filter((f) => /_ZN/.test(f))).toEqual([]);
  });

  test('in a container: the perf map the process names /tmp/perf-1.map, read through its root', async () => {
    const { out } = await traceNode(['--syscall', 'write', '--stack', 'user', '--pid', '$!', '--filter', 'fd == 1'], true);
    // Not in this /tmp: the names came through the container's root.
    expect(fs.existsSync('/tmp/perf-1.map')).toBe(false);
    expect(secondEvent(out).join('\n')).toMatch(/^ {4}JS:[~^+*]?knWriteMarker .*\(\/tmp\/perf-1\.map\)$/m);
    // Files are named as the process names them, not by the way in through its root.
    expect(secondEvent(out).join('\n')).toMatch(/^ {4}write\+0x[0-9a-f]+ \(\/usr\/lib\/.*libc\.so\.6\)$/m);
    expect(out).not.toMatch(/\/proc\/self\/fd\//);
  });

  test('--no-demangle: the C++ names as the binary has them', async () => {
    const { out } = await traceNode(['--syscall', 'write', '--stack', 'user', '--pid', '$!', '--filter', 'fd == 1', '--no-demangle']);
    const event = secondEvent(out).join('\n');
    expect(event).toMatch(/^ {4}_ZN4node\w+\+0x/m);
    expect(event).toMatch(/^ {4}JS:[~^+*]?knWriteMarker /m);
  });
});
