/**
 * The delivery path on the real kernel: `batch` listeners get every record by
 * index, the reader sleeps when nothing comes (its flag, in the `reader` map
 * it shares with the BPF program, says so) and the next event wakes it, and
 * an unref'd probe lets its process exit.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { EventBatch, Probe, TraceEvent, attachTracepoint } from '../../lib';
import { describeHost, distLib } from '../helpers/host';
import { run, sleep, until } from '../helpers/proc';
import { Workload } from '../helpers/workload';

jest.setTimeout(60000);

/** Ids of the `reader` maps this process holds (each session's reader has one). */
function readerMaps(): number[] {
  const ids: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let info: string;
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const id = Number(/^map_id:\s*(\d+)/m.exec(info)?.[1]);
    if (!id) continue;
    const show = JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' })) as { name: string };
    if (show.name === 'reader') ids.push(id);
  }
  return ids;
}

/**
 * Reader maps of sessions that earlier test files left in this jest worker:
 * not this file's (the native addon and its fds outlive a file's modules).
 */
let earlier = new Set<number>();

/** This file's session's reader map, found once (a look at every map of the worker takes a bpftool run each). */
let ours: number | undefined;

/** The value of this file's session's `reader` map (the reader's sleep flag), read by bpftool. */
function readerFlag(): number {
  if (ours === undefined) {
    const ids = readerMaps().filter((id) => !earlier.has(id));
    if (ids.length !== 1) throw new Error(`expected one reader map of this file's session, found ${ids.length}`);
    ours = ids[0];
  }
  const dump = JSON.parse(execFileSync('bpftool', ['map', 'dump', 'id', String(ours), '-j'], { encoding: 'utf8' })) as Array<{ value: string[] | number }>;
  const v = dump[0].value;
  return Array.isArray(v) ? Buffer.from(v.map((x) => parseInt(x, 16))).readUInt32LE(0) : Number(v);
}

describeHost('delivery', { root: true, tracefs: true, tools: ['gcc', 'bpftool'] }, () => {
  const open: Probe[] = [];
  beforeAll(() => {
    earlier = new Set(readerMaps());
  });
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });

  test("'batch' listeners read every record of a workload by index, in order, with no event objects", async () => {
    const n = 20000;
    const w = new Workload(['getppid', String(n)]);
    const pid = await w.ready();
    const probe = attachTracepoint('syscalls:sys_enter_getppid', { pid });
    open.push(probe);
    let records = 0;
    let batches = 0;
    let lastNs = 0;
    let ordered = true;
    let pids = true;
    probe.on('batch', (b: EventBatch) => {
      batches++;
      for (let i = 0; i < b.length; i++) {
        records++;
        if (b.pid(i) !== pid || b.comm(i) !== 'kn_workload') pids = false;
        if (b.nsNumber(i) < lastNs) ordered = false;
        lastNs = b.nsNumber(i);
      }
    });
    let events = 0;
    probe.on('event', () => events++); // both kinds of listener on one probe
    await w.go();
    expect(await until(() => records + probe.lost >= n, 20000, 100)).toBe(true);
    expect(probe.lost).toBe(0);
    expect(records).toBe(n);
    expect(events).toBe(n);
    expect(probe.seen).toBe(n);
    expect(pids).toBe(true);
    expect(ordered).toBe(true);
    expect(batches).toBeLessThan(n / 10); // many records per call, not one
  });

  test('a batch is valid during its call; copy() and detach() keep records after the scratch is reused', async () => {
    const w = new Workload(['getppid', '3000']);
    const pid = await w.ready();
    const probe = attachTracepoint('syscalls:sys_enter_getppid', { pid });
    open.push(probe);
    const kept: EventBatch[] = [];
    const events: TraceEvent[] = [];
    probe.on('batch', (b: EventBatch) => {
      kept.push(b.copy());
      events.push(b.event(0).detach());
    });
    await w.go();
    expect(await until(() => kept.reduce((s, b) => s + b.length, 0) >= 3000, 20000, 100)).toBe(true);
    // Later batches overwrote the scratch: the copies still read their own records.
    for (const b of kept) for (let i = 0; i < b.length; i++) expect(b.pid(i)).toBe(pid);
    for (const ev of events) expect([ev.pid, ev.comm]).toEqual([pid, 'kn_workload']);
  });

  test('the reader sleeps when nothing comes, and the next event wakes it at once', async () => {
    // Filtered on one waiting process's pid: other tests' workloads running
    // alongside would keep a comm filter's reader awake.
    const w = new Workload(['syncfs', path.join(distLib, 'index.js')]);
    const pid = await w.ready();
    const probe = attachTracepoint('syscalls:sys_enter_syncfs', { pid });
    open.push(probe);
    // A drain that finds nothing puts the reader to sleep: the flag the BPF program reads is up.
    expect(await until(() => readerFlag() === 1, 15000, 100)).toBe(true);
    const got: number[] = [];
    probe.on('event', (ev: TraceEvent) => got.push(ev.pid));
    await w.go();
    // The record cleared the flag as it woke the reader: without that wake-up it would wait for the next record, forever.
    expect(await until(() => got.includes(pid), 5000, 50)).toBe(true);
    expect(await until(() => readerFlag() === 1, 15000, 100)).toBe(true); // asleep again
  });

  test('an attached probe keeps its process alive; after unref() the process exits by itself', async () => {
    const script = (unref: boolean) => `
      const { attachTracepoint } = require(${JSON.stringify(distLib)});
      const p = attachTracepoint('syscalls:sys_enter_syncfs');
      ${unref ? 'p.unref();' : ''}
      process.on('exit', () => console.log('exit'));`;
    const unrefd = await run(process.execPath, ['-e', script(true)], { timeoutMs: 15000 });
    expect(unrefd.stderr).toBe('');
    expect(unrefd.stdout.trim()).toBe('exit');
    expect(unrefd.code).toBe(0);
    const held = await run(process.execPath, ['-e', script(false)], { timeoutMs: 3000 });
    expect(held.code).toBeNull(); // still running when the timeout killed it
  });
});
