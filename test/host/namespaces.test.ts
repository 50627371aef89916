/**
 * PID namespaces built by hand (`unshare -p -f --mount-proc`), as a service
 * in a container runs: a pid or tid filter given inside means the
 * namespace's pid, events carry the pids the tracer sees and the host's, a
 * process outside the tracer's namespace shows pid 0, one in a namespace
 * nested below it shows the pid the tracer sees, uprobes take the
 * namespace's pid, and the CLI's --pid and -c behave the same in there.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeHost } from '../helpers/host';
import { Child, cliPath, run } from '../helpers/proc';
import { buildUprog } from '../helpers/uprog';

jest.setTimeout(60000);

const CHILD = path.join(__dirname, 'namespace-child.js');

interface Shown {
  pid: number;
  tid: number;
  hostPid: number;
  hostTid: number;
  comm: string;
  args: Record<string, unknown>;
}

const lines = (out: string) => out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

/** The host pid of the one process `unshare -f` (host pid `pid`) forked: the namespace's pid 1. */
function forkedBy(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim());
}

describeHost('PID namespaces', { root: true, tracefs: true, tools: ['unshare', 'gcc'] }, () => {
  let dir: string;
  /** A copy of cat under a name no other process has: its comm. */
  let comm: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-pidns-'));
    comm = `knns${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`.slice(0, 15);
    fs.copyFileSync('/bin/cat', path.join(dir, comm));
    fs.chmodSync(path.join(dir, comm), 0o755);
    file = path.join(dir, 'opened-in-the-namespace');
    fs.writeFileSync(file, 'x\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const inNamespace = (...args: string[]) => new Child('unshare', ['-p', '-f', '--mount-proc', process.execPath, CHILD, ...args]);

  test('{ pid: process.pid } and { tid } inside see its own openat; events carry its pid there and on the host', async () => {
    const c = inNamespace('self', file);
    await c.waitFor(/"ready"/);
    const host = forkedBy(c.pid);
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const [ready, seen] = lines(c.stdout);
    // unshare -f: node is the namespace's first process.
    expect(ready).toEqual({ ready: true, pid: 1 });
    for (const ev of [seen.byPid, seen.byTid] as Shown[]) {
      expect(ev).toMatchObject({ pid: 1, tid: 1, hostPid: host, hostTid: host, args: expect.objectContaining({ filename: file }) });
    }
    expect(host).not.toBe(1);
  });

  test('a process outside the namespace shows pid 0, with its host pid', async () => {
    const c = inNamespace('outside', comm);
    await c.waitFor(/"ready"/);
    const hostPid = await new Promise<number>((resolve, reject) => {
      const p = execFile(path.join(dir, comm), [file], (err) => (err ? reject(err) : resolve(p.pid as number)));
    });
    await c.waitFor(new RegExp(`"filename":"${file}"`));
    c.proc.stdin!.end();
    await c.exited;
    const ev = lines(c.stdout).find((l) => l.event?.args.filename === file)?.event as Shown;
    expect(ev).toMatchObject({ pid: 0, tid: 0, hostPid, hostTid: hostPid, comm });
  });

  test('a process in a namespace nested below shows the pid this namespace gives it, and { pid } of it works', async () => {
    const c = inNamespace('nested', path.join(dir, comm), file);
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const { nestedPid, event } = lines(c.stdout)[0] as { nestedPid: number; event: Shown };
    // node is 1, unshare 2 or more: its child is further on, and not 0 (which bpf_get_ns_current_pid_tgid would give).
    expect(nestedPid).toBeGreaterThan(2);
    expect(event).toMatchObject({ pid: nestedPid, tid: nestedPid, comm, args: expect.objectContaining({ filename: file }) });
    expect(event.hostPid).not.toBe(nestedPid);
  });

  test('attachUprobe with { pid } takes the namespace\'s pid (the kernel resolves it in the caller\'s namespace)', async () => {
    const exe = buildUprog();
    const c = inNamespace('uprobe', exe);
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const { childPid, event } = lines(c.stdout)[0] as { childPid: number; event: Shown };
    expect(event).toMatchObject({ pid: childPid, args: { a: 20, b: 22 } });
    expect(event.hostPid).not.toBe(childPid);
  });

  test('CLI: --pid inside the namespace is the namespace\'s pid', async () => {
    const script = [
      `${process.execPath} -e "setInterval(() => require('fs').readFileSync('${file}'), 20)" &`,
      'loop=$!',
      'echo "loop $loop"',
      `${process.execPath} ${cliPath} --syscall openat --pid "$loop" --json --duration 2`,
      'kill $loop',
    ].join('\n');
    const r = await run('unshare', ['-p', '-f', '--mount-proc', 'sh', '-c', script], { timeoutMs: 30000 });
    expect(r.stderr).toMatch(/kprobe-node: \d+ events, 0 lost/);
    const loop = Number(/^loop (\d+)$/m.exec(r.stdout)?.[1]);
    const events = lines(r.stdout);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.pid === loop && e.hostPid !== loop && e.hostPid > 0)).toBe(true);
    expect(events.some((e) => e.args.filename === file)).toBe(true);
  });

  test('CLI: -c inside the namespace: its events carry the pid the command has there', async () => {
    const command = `sh -c 'echo "child $$"; exec ${path.join(dir, comm)} ${file}'`;
    const r = await run('unshare', ['-p', '-f', '--mount-proc', process.execPath, cliPath, '--syscall', 'openat', '--comm', comm, '--json', '-c', command], { timeoutMs: 30000 });
    const child = Number(/^child (\d+)$/m.exec(r.stdout)?.[1]);
    const events = lines(r.stdout);
    expect(events.map((e) => e.args.filename)).toContain(file);
    expect(events.every((e) => e.pid === child && e.hostPid !== child)).toBe(true);
    expect(child).toBeLessThan(100);
  });
});
