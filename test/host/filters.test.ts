/**
 * The task filters `{ uid }` and `{ tid }` (`--uid`, `--tid`) checked against
 * the kernel: two workloads that differ only in their user, or two threads of
 * one process that differ only in their thread id, make a known number of
 * getppid calls each; a filtered probe keeps exactly the one and none of the
 * other. Each filter is tried both ways round, so a filter that keeps
 * everything, or nothing, fails.
 */
import { Probe, TraceEvent, attachTracepoint } from '../../lib';
import { interrupt, startAttached } from '../helpers/cli';
import { collect } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { Tasks } from '../helpers/tasks';
import { Workload, workloadPath } from '../helpers/workload';

jest.setTimeout(30000);

const TP = 'syscalls:sys_enter_getppid';
/** nobody, and a uid no account has (the kernel does not care). */
const UID_A = 65534;
const UID_B = 40000 + (process.pid % 20000);
/** Distinct call counts, so a count also says whose calls they were. */
const CALLS_A = 7;
const CALLS_B = 11;

/** Events per pid (or tid), for comparing with what each workload did. */
function tally(events: Array<{ pid: number; tid: number }>, key: 'pid' | 'tid'): Record<number, number> {
  const out: Record<number, number> = {};
  for (const e of events) out[e[key]] = (out[e[key]] ?? 0) + 1;
  return out;
}

/**
 * Runs the CLI tracing TP with `args` and --json; once it is attached, runs
 * `during`, then stops it with SIGINT. Returns its events.
 */
async function cliEvents(args: string[], during: () => Promise<unknown>): Promise<TraceEvent[]> {
  const cli = await startAttached(['--tracepoint', TP, '--json', ...args]);
  let code: number | null;
  try {
    await during();
  } finally {
    code = await interrupt(cli);
  }
  expect(cli.stderr).toMatch(/^kprobe-node: \d+ events, 0 lost$/m);
  expect(code).toBe(0);
  return cli.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceEvent);
}

describeHost('task filters against the kernel', { root: true, tracefs: true, tools: ['gcc', 'setpriv', 'bpftool'] }, () => {
  const open: Probe[] = [];
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  const attach = (opts: Parameters<typeof attachTracepoint>[1]) => {
    const p = attachTracepoint(TP, opts);
    open.push(p);
    return p;
  };

  /** Two paused workloads: A as UID_A, B as UID_B. */
  async function twoUsers(): Promise<{ a: Workload; b: Workload; pidA: number; pidB: number }> {
    const a = new Workload(['getppid', String(CALLS_A)], workloadPath(), { uid: UID_A });
    const b = new Workload(['getppid', String(CALLS_B)], workloadPath(), { uid: UID_B });
    const [pidA, pidB] = await Promise.all([a.ready(), b.ready()]);
    return { a, b, pidA, pidB };
  }

  /** Two paused threads of one kn_tasks: the main one calls CALLS_A times, the second CALLS_B times. */
  async function twoThreads(): Promise<{ t: Tasks; pid: number; tid1: number; tid2: number }> {
    const t = new Tasks(['threads', String(CALLS_A), String(CALLS_B)]);
    return { t, ...(await t.threads()) };
  }

  test('{ uid }: a probe per user keeps that user\'s workload and none of the other\'s', async () => {
    const { a, b, pidA, pidB } = await twoUsers();
    const onlyA = collect(attach({ uid: UID_A }));
    const onlyB = collect(attach({ uid: UID_B }));
    // Controls: both workloads really made their calls while the probes were attached.
    const controlA = collect(attach({ pid: pidA }));
    const controlB = collect(attach({ pid: pidB }));
    await Promise.all([a.go(), b.go()]);
    // Closing delivers what the ring still holds.
    for (const p of open) p.close();

    expect(tally(controlA, 'pid')).toEqual({ [pidA]: CALLS_A });
    expect(tally(controlB, 'pid')).toEqual({ [pidB]: CALLS_B });
    expect(controlA.map((e) => e.uid)).toEqual(Array(CALLS_A).fill(UID_A));
    // Another process of user A (nobody) may call getppid too: look at ours, and at every uid.
    const mine = (evs: TraceEvent[]) => evs.filter((e) => e.pid === pidA || e.pid === pidB);
    expect(tally(mine(onlyA), 'pid')).toEqual({ [pidA]: CALLS_A });
    expect(tally(mine(onlyB), 'pid')).toEqual({ [pidB]: CALLS_B });
    expect(onlyA.filter((e) => e.uid !== UID_A)).toEqual([]);
    expect(onlyB.filter((e) => e.uid !== UID_B)).toEqual([]);
  });

  test('{ tid }: a probe per thread keeps that thread\'s calls and none of its sibling\'s', async () => {
    const { t, pid, tid1, tid2 } = await twoThreads();
    expect(tid1).toBe(pid);
    expect(tid2).not.toBe(pid);
    const only1 = collect(attach({ tid: tid1 }));
    const only2 = collect(attach({ tid: tid2 }));
    const control = collect(attach({ pid }));
    await t.go();
    for (const p of open) p.close();

    expect(tally(control, 'tid')).toEqual({ [tid1]: CALLS_A, [tid2]: CALLS_B });
    // No other process has these thread ids: every event must be the thread's own.
    expect(tally(only1, 'tid')).toEqual({ [tid1]: CALLS_A });
    expect(tally(only2, 'tid')).toEqual({ [tid2]: CALLS_B });
    expect(only2.every((e) => e.pid === pid)).toBe(true);
  });

  test('--uid: the CLI keeps the one user\'s workload and not the other\'s', async () => {
    const { a, b, pidA, pidB } = await twoUsers();
    const events = await cliEvents(['--uid', String(UID_B)], () => Promise.all([a.go(), b.go()]));
    expect(tally(events.filter((e) => e.pid === pidA || e.pid === pidB), 'pid')).toEqual({ [pidB]: CALLS_B });
    expect(events.filter((e) => e.uid !== UID_B)).toEqual([]);
  });

  test('--tid: the CLI keeps the one thread\'s calls and not its sibling\'s', async () => {
    const { t, tid2 } = await twoThreads();
    const events = await cliEvents(['--tid', String(tid2)], () => t.go());
    expect(tally(events, 'tid')).toEqual({ [tid2]: CALLS_B });
  });
});
