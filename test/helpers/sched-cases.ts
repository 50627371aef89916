/**
 * Tracepoint fields decoded on the real kernel, checked against a process
 * whose every pid, comm and file name is known: kn_tasks renames itself,
 * forks, and its child execs a file with a long, unique path.
 *
 *   sched:sched_process_exec   filename (__data_loc char[]), pid, old_pid
 *   sched:sched_process_fork   parent_comm, parent_pid, child_comm, child_pid
 *                              (char[16] on 6.1, __data_loc char[] on 6.18)
 *   task:task_rename           pid, oldcomm and newcomm (char[16]), oom_score_adj
 *
 * Shared by test/host/sched.test.ts (this kernel) and test/kernel/sched.test.ts
 * (the VM's 6.1), whose field layouts differ.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Probe, TraceEvent, attachTracepoint } from '../../lib';
import { collect } from './events';
import { runCli } from './proc';
import { Tasks } from './tasks';

/** The C type of `field` in a tracepoint's format file, read directly from tracefs. */
export function fieldType(tracepoint: string, field: string): string {
  const [category, name] = tracepoint.split(':');
  const root = fs.existsSync('/sys/kernel/tracing/events') ? '/sys/kernel/tracing' : '/sys/kernel/debug/tracing';
  const format = fs.readFileSync(`${root}/events/${category}/${name}/format`, 'utf8');
  const m = new RegExp(`field:([^;]*?)\\s*\\b${field}(\\[\\d*\\])?;`).exec(format);
  if (!m) throw new Error(`${tracepoint} has no field ${field}`);
  return `${m[1]}${m[2] ?? ''}`;
}

/** A 15-character comm (the most a comm holds), unique to this test process. */
export function fullComm(prefix: string): string {
  const name = `${prefix}${String(process.pid).padStart(15, '0')}`;
  return `${prefix}${name.slice(-(15 - prefix.length))}`;
}

/** Defines the test cases (call inside a describe block). */
export function schedCases(): void {
  let dir: string;
  /** A copy of `true` at a long path whose file name starts with a full comm. */
  let exe: string;
  const open: Probe[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-sched-'));
    // Long enough to cross the 16 bytes of a comm many times, short of the 256-byte default string size.
    const sub = path.join(dir, `a-directory-with-a-long-name-${'x'.repeat(60)}`);
    fs.mkdirSync(sub);
    exe = path.join(sub, `kn_exec_target_${process.pid}_with_more_after_the_comm`);
    const which = ['/usr/bin/true', '/bin/true'].find((p) => fs.existsSync(p));
    if (!which) throw new Error('no true binary');
    fs.copyFileSync(which, exe);
    fs.chmodSync(exe, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  const attach = (tp: string, opts?: Parameters<typeof attachTracepoint>[1]) => {
    const p = attachTracepoint(tp, opts);
    open.push(p);
    return p;
  };

  /** Runs kn_tasks fork with probes attached; returns its pid and its child's, and the events (probes closed). */
  async function forkAndExec(name: string, probes: Array<[string, Parameters<typeof attachTracepoint>[1]?]>) {
    const t = new Tasks(['fork', name, exe]);
    const pid = await t.ready();
    const oomScoreAdj = Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'));
    const events = probes.map(([tp, opts]) => collect(attach(tp, opts)));
    const out = await t.go();
    const child = Number(/^child (\d+)$/m.exec(out.join('\n'))?.[1]);
    expect(child).toBeGreaterThan(0);
    // Closing delivers what the ring still holds.
    for (const p of open) p.close();
    return { pid, child, oomScoreAdj, events };
  }

  test('sched:sched_process_exec: the exact file name (a __data_loc string) and pids of an exec', async () => {
    expect(fieldType('sched:sched_process_exec', 'filename')).toBe('__data_loc char[]');
    const { child, events: [execs] } = await forkAndExec(fullComm('kn_e'), [['sched:sched_process_exec']]);
    const mine = execs.filter((e: TraceEvent) => e.pid === child);
    expect(mine).toHaveLength(1);
    expect(mine[0].args).toEqual({ filename: exe, pid: child, old_pid: child });
    expect(mine[0].tid).toBe(child);
    // By now the task carries the new program's name, cut to 15 characters.
    expect(mine[0].comm).toBe(path.basename(exe).slice(0, 15));
  });

  test('sched:sched_process_fork: the parent\'s and the child\'s pids and comms', async () => {
    const name = fullComm('kn_f');
    expect(['char[16]', '__data_loc char[]']).toContain(fieldType('sched:sched_process_fork', 'parent_comm'));
    const { pid, child, events: [forks] } = await forkAndExec(name, [['sched:sched_process_fork']]);
    const mine = forks.filter((e: TraceEvent) => e.pid === pid);
    expect(mine).toHaveLength(1);
    // The fork runs in the parent; the child starts with a copy of its comm.
    expect(mine[0].args).toEqual({ parent_comm: name, parent_pid: pid, child_comm: name, child_pid: child });
    expect(mine[0].comm).toBe(name);
  });

  test('task:task_rename: the pid, the old and the new comm (char[16]) and oom_score_adj', async () => {
    expect(fieldType('task:task_rename', 'oldcomm')).toBe('char[16]');
    const name = fullComm('kn_r');
    const { pid, oomScoreAdj, events: [renames] } = await forkAndExec(name, [['task:task_rename']]);
    const mine = renames.filter((e: TraceEvent) => e.pid === pid);
    expect(mine).toHaveLength(1);
    expect(mine[0].args).toEqual({ pid, oldcomm: 'kn_tasks', newcomm: name, oom_score_adj: oomScoreAdj });
  });

  test('kprobe-node --tracepoint sched:sched_process_exec --json -c FILE: the README example gives the file name', async () => {
    const json = await runCli(['--tracepoint', 'sched:sched_process_exec', '--json', '-c', exe], { timeoutMs: 60_000 });
    expect(json.code).toBe(0);
    const mine = json.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.args.filename === exe);
    expect(mine).toHaveLength(1);
    expect(mine[0].args).toEqual({ filename: exe, pid: mine[0].pid, old_pid: mine[0].pid });
    expect(mine[0].comm).toBe(path.basename(exe).slice(0, 15));
  });

  test('kprobe-node --tracepoint sched:sched_process_exec -c FILE: the line shows the file name and pids', async () => {
    const text = await runCli(['--tracepoint', 'sched:sched_process_exec', '-c', exe], { timeoutMs: 60_000 });
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.includes(exe));
    const m = /^\d\d:\d\d:\d\d (\S+) (\d+) filename="([^"]*)" pid=(\d+) old_pid=(\d+)$/.exec(line ?? '');
    expect(m).not.toBeNull();
    const [, comm, pid, filename, fieldPid, oldPid] = m as RegExpExecArray;
    expect({ comm, filename, fieldPid, oldPid }).toEqual({ comm: path.basename(exe).slice(0, 15), filename: exe, fieldPid: pid, oldPid: pid });
  });
}
