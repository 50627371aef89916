/**
 * attachTracepoint on the real kernel: events arrive with typed fields, the
 * async iterator and `await using` work, and closing (or dying) removes the
 * kernel's links for real.
 */
import * as os from 'os';
import * as path from 'path';
import { Probe, TraceEvent, attachTracepoint } from '../../lib';
import { Session } from '../../lib/core/session';
import { linksOfProgram } from '../helpers/bpf';
import { collect, syncfs, waitForEvent } from '../helpers/events';
import { describeHost, distLib } from '../helpers/host';
import { Child, run, sleep, until } from '../helpers/proc';
import { Workload } from '../helpers/workload';

jest.setTimeout(30000);

const TP = 'syscalls:sys_enter_syncfs';
const TP_EXIT = 'syscalls:sys_exit_syncfs';

function tracepointProgram(): number {
  const id = Session.get().info().tracepointProgram;
  if (!id) throw new Error('the session reports no tracepoint program');
  return id;
}

describeHost('attachTracepoint', { root: true, tracefs: true, tools: ['sync', 'bpftool', 'gcc'] }, () => {
  const open: Probe[] = [];
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  const attach = (opts?: Parameters<typeof attachTracepoint>[1]) => {
    const p = attachTracepoint(TP, opts);
    open.push(p);
    return p;
  };

  test('sees a child\'s syncfs with its pid, comm, fd and typed fields', async () => {
    const probe = attach();
    expect(probe.name).toBe(`tracepoint:${TP}`);
    expect(probe.kind).toBe('tracepoint');
    expect(probe.strategy).toBe(`tracepoint ${TP}`);
    expect(probe.args).toEqual([{ name: 'fd', type: 'int' }]);
    const events = collect(probe);

    const before = process.hrtime.bigint();
    const wallBefore = Date.now();
    const pid = await syncfs();
    const ev = await waitForEvent(events, (e) => e.pid === pid, `from sync (pid ${pid})`);
    const after = process.hrtime.bigint();

    expect(ev).toBeInstanceOf(TraceEvent);
    expect(ev.probe).toBe(`tracepoint:${TP}`);
    expect(ev.comm).toBe('sync');
    expect(ev.tid).toBe(pid);
    expect(ev.uid).toBe(process.getuid!());
    expect(ev.uid).toBe(0);
    expect(typeof ev.ns).toBe('bigint');
    // Both clocks are CLOCK_MONOTONIC: the hit lies between the two readings.
    expect(ev.ns).toBeGreaterThanOrEqual(before);
    expect(ev.ns).toBeLessThanOrEqual(after);
    expect(ev.time).toBeInstanceOf(Date);
    expect(ev.time.getTime()).toBeGreaterThanOrEqual(wallBefore - 50);
    expect(ev.time.getTime()).toBeLessThanOrEqual(Date.now() + 50);
    expect(Number.isInteger(ev.cpu)).toBe(true);
    expect(ev.cpu).toBeGreaterThanOrEqual(0);
    expect(ev.cpu).toBeLessThan(os.cpus().length);
    expect(typeof ev.args.fd).toBe('number');
    expect(ev.args.fd as number).toBeGreaterThanOrEqual(0);
    expect(ev.ret).toBeUndefined();
    expect(ev.faults).toBeUndefined();
    expect(probe.seen).toBeGreaterThanOrEqual(1);
    expect(probe.lost).toBe(0);
  });

  test('the fd argument is the one the process passed', async () => {
    const probe = attach();
    const events = collect(probe);
    const w = new Workload(['syncfs', '/']);
    const pid = await w.ready();
    const out = await w.go();
    const fd = Number(/^fd (\d+)$/.exec(out[0] ?? '')?.[1]);
    expect(Number.isInteger(fd)).toBe(true);
    const ev = await waitForEvent(events, (e) => e.pid === pid, `from kn_workload (pid ${pid})`);
    expect(ev.comm).toBe('kn_workload');
    expect(ev.args).toEqual({ fd });
  });

  test('the async iterator yields events and closes the probe when the loop ends', async () => {
    const probe = attach();
    const pid = syncfs();
    let got: TraceEvent | undefined;
    for await (const ev of probe) {
      if (ev.pid === (await pid)) {
        got = ev;
        break;
      }
    }
    expect(got?.comm).toBe('sync');
    expect(probe.closed).toBe(true);
  });

  test('the async iterator ends when the probe is closed elsewhere', async () => {
    const probe = attach();
    const seen: TraceEvent[] = [];
    const loop = (async () => {
      for await (const ev of probe) seen.push(ev);
      return 'ended';
    })();
    const pid = await syncfs();
    await waitForEvent(seen, (e) => e.pid === pid, 'through the iterator');
    probe.close();
    await expect(loop).resolves.toBe('ended');
  });

  test('await using closes the probe and removes its link (in a plain node process)', async () => {
    const r = await run(process.execPath, [path.join(__dirname, '..', 'helpers', 'dispose-child.js'), TP]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      prog: expect.any(Number),
      linksInside: 1,
      closedInside: false,
      closeEvents: 1,
      closedAfter: true,
      linksAfter: 0,
    });
  });

  test('close() detaches for real, emits close once, is idempotent; no events afterwards', async () => {
    const prog = tracepointProgram();
    const linksBefore = linksOfProgram(prog).length;
    const infoBefore = Session.get().info().links ?? 0;
    const probe = attachTracepoint(TP);
    const events = collect(probe);
    // The kernel and the addon both hold one more link.
    expect(linksOfProgram(prog).length).toBe(linksBefore + 1);
    expect(Session.get().info().links).toBe(infoBefore + 1);

    const pid = await syncfs();
    await waitForEvent(events, (e) => e.pid === pid, 'before close');

    let closes = 0;
    probe.on('close', () => closes++);
    probe.close();
    probe.close();
    expect(closes).toBe(1);
    expect(probe.closed).toBe(true);
    expect(linksOfProgram(prog).length).toBe(linksBefore);
    expect(Session.get().info().links).toBe(infoBefore);

    // A control probe (on the exit tracepoint: see the EEXIST test below) proves
    // that the trigger still fires while the closed probe stays silent.
    const control = attachTracepoint(TP_EXIT);
    open.push(control);
    const controlEvents = collect(control);
    const n = events.length;
    const pid2 = await syncfs();
    await waitForEvent(controlEvents, (e) => e.pid === pid2, 'on the control probe');
    Session.get().flush();
    await sleep(100);
    expect(events.length).toBe(n);
  });

  test('a process that is killed leaves no links behind', async () => {
    const script = `
      const { attachTracepoint } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'core', 'session.js'))});
      attachTracepoint('${TP}');
      attachTracepoint('syscalls:sys_exit_syncfs');
      console.log('prog ' + Session.get().info().tracepointProgram);
      setInterval(() => {}, 1000);`;
    const child = new Child(process.execPath, ['-e', script]);
    const prog = Number((await child.waitFor(/^prog (\d+)$/m))[1]);
    expect(linksOfProgram(prog)).toHaveLength(2);
    child.kill('SIGKILL');
    await child.exited;
    expect(await until(() => linksOfProgram(prog).length === 0, 5000)).toBe(true);
  });

  test('filters: a pid filter drops other processes', async () => {
    const w = new Workload(['syncfs', '/']);
    const pid = await w.ready();
    const filtered = attach({ pid });
    const control = attachTracepoint(TP_EXIT);
    open.push(control);
    const fEvents = collect(filtered);
    const cEvents = collect(control);
    const syncPid = await syncfs();
    await w.go();
    await waitForEvent(cEvents, (e) => e.pid === syncPid, 'from sync on the unfiltered control probe');
    await waitForEvent(fEvents, (e) => e.pid === pid, 'from the workload on the filtered probe');
    Session.get().flush();
    expect(fEvents.length).toBeGreaterThanOrEqual(1);
    expect(fEvents.filter((e) => e.pid !== pid)).toEqual([]);
  });

  // The design attaches one loaded program many times, told apart by cookies.
  // A tracepoint keeps one array of programs, and the kernel refuses the same
  // program twice in it (bpf_prog_array_copy: -EEXIST).
  test('two probes on the same tracepoint in one process both work', async () => {
    const a = attach({ comm: 'sync' });
    const b = attach();
    const aEvents = collect(a);
    const bEvents = collect(b);
    const pid = await syncfs();
    expect((await waitForEvent(aEvents, (e) => e.pid === pid, 'on the first probe')).comm).toBe('sync');
    expect((await waitForEvent(bEvents, (e) => e.pid === pid, 'on the second probe')).comm).toBe('sync');
    b.close();
    const pid2 = await syncfs();
    expect((await waitForEvent(aEvents, (e) => e.pid === pid2, 'on the first probe after the second closed')).comm).toBe('sync');
    // The first probe's comm filter held throughout.
    expect(aEvents.filter((e) => e.comm !== 'sync')).toEqual([]);
  });
});
