/**
 * Manners of a long-running service, on the real kernel: an AbortSignal
 * closes probes and summaries (and an aborted one attaches nothing),
 * `using` closes them with the scope, diagnostics_channel publishes attach,
 * detach and loss, and listeners' exceptions and rejections behave as
 * Node's EventEmitter documents.
 */
import { subscribe, unsubscribe } from 'diagnostics_channel';
import { getEventListeners } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Probe, attachSyscall, countBy, histogram, latency } from '../../lib';
import { Session } from '../../lib/core/session';
import { collect, errorOf, waitForEvent } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { run } from '../helpers/proc';

jest.setTimeout(60000);

const CHILD = path.join(__dirname, 'service-child.js');

describeHost('service manners', { root: true, tracefs: true }, () => {
  let tmp: string;
  let cat: string;
  let file: string;
  const links = () => Session.get().info().links ?? 0;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-service-'));
    cat = path.join(tmp, `knsv${Math.random().toString(36).slice(2, 10)}`);
    fs.copyFileSync('/bin/cat', cat);
    fs.chmodSync(cat, 0o755);
    file = path.join(tmp, 'file');
    fs.writeFileSync(file, 'x\n');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const comm = () => path.basename(cat);

  describe('AbortSignal', () => {
    test('an abort closes the probe: close event, detached in the kernel, listener gone; iteration ends', async () => {
      const ac = new AbortController();
      const probe = attachSyscall('openat', { comm: comm(), signal: ac.signal });
      const attached = links();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      const closed = new Promise((r) => probe.once('close', r));
      const loop = (async () => {
        let n = 0;
        for await (const _ev of probe) n++;
        return n;
      })();
      ac.abort();
      await closed;
      expect(probe.closed).toBe(true);
      expect(links()).toBe(attached - 1);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      expect(await loop).toBe(0);
    });

    test('an aborted signal throws its reason and attaches nothing', () => {
      const ac = new AbortController();
      ac.abort();
      const before = links();
      const e = errorOf(() => attachSyscall('openat', { signal: ac.signal }));
      expect(e).toBe(ac.signal.reason);
      expect(e.name).toBe('AbortError');
      expect(errorOf(() => countBy('syscall:openat', { signal: ac.signal }))).toBe(ac.signal.reason);
      expect(links()).toBe(before);
    });

    test('closing first forgets the signal; one signal closes many', () => {
      const ac = new AbortController();
      const a = attachSyscall('openat', { comm: comm(), signal: ac.signal });
      const b = attachSyscall('openat', { comm: comm(), signal: ac.signal });
      a.close();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      ac.abort();
      expect(b.closed).toBe(true);
    });

    test('summaries: countBy, histogram and latency close on abort; their last snapshot stays', async () => {
      const ac = new AbortController();
      const before = links();
      const c = countBy('syscall:openat', { comm: comm(), signal: ac.signal });
      const h = histogram('syscall:read', 'count', { comm: comm(), signal: ac.signal });
      const l = latency('syscall:openat', { comm: comm(), signal: ac.signal });
      expect(links()).toBe(before + 4);
      await run(cat, [file]);
      ac.abort();
      for (const s of [c, h, l]) expect(s.closed).toBe(true);
      expect(links()).toBe(before);
      expect(c.snapshot()[0]).toMatchObject({ key: comm() });
      expect(l.snapshot().total).toBeGreaterThan(0);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    });
  });

  test('diagnostics_channel: attach and detach, with the probe', async () => {
    const got: Array<[string, Probe]> = [];
    const onAttach = (m: unknown) => got.push(['attach', (m as { probe: Probe }).probe]);
    const onDetach = (m: unknown) => got.push(['detach', (m as { probe: Probe }).probe]);
    subscribe('kprobe-node:attach', onAttach);
    subscribe('kprobe-node:detach', onDetach);
    try {
      const probe = attachSyscall('openat', { comm: comm() });
      const events = collect(probe);
      await run(cat, [file]);
      await waitForEvent(events, () => true, 'an openat of cat');
      probe.close();
      expect(got.map(([what, p]) => [what, p])).toEqual([['attach', probe], ['detach', probe]]);
      expect(got[1][1].seen).toBe(events.length);
    } finally {
      unsubscribe('kprobe-node:attach', onAttach);
      unsubscribe('kprobe-node:detach', onDetach);
    }
  });

  const child = async (mode: string) => {
    const r = await run(process.execPath, [CHILD, mode, cat, file], { timeoutMs: 30000 });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout.trim().split('\n').pop() as string);
  };

  test('diagnostics_channel: kprobe-node:lost publishes what the kernel dropped, as the lost event counts it', async () => {
    const r = await child('lost');
    expect(r.lost).toBeGreaterThan(0);
    expect(r.published).toBe(r.lost);
    expect(r.emitted).toBe(r.lost);
  });

  test("a listener's exception: an uncaught exception once per batch; the other probe and later batches are delivered", async () => {
    const r = await child('listener-error');
    expect(r.afterFirst.calls).toBeGreaterThan(1); // it threw on every event and was called for each
    expect(r.afterFirst.seen).toBe(r.afterFirst.calls);
    expect(r.calls).toBe(r.seen);
    expect(r.calls).toBeGreaterThan(r.afterFirst.calls);
    expect(r.uncaught.length).toBeGreaterThanOrEqual(2);
    expect(new Set(r.uncaught)).toEqual(new Set(['listener failed']));
    expect(r.closed).toBe(true);
  });

  test('`using`: Symbol.dispose closes a probe and a summary at the end of the scope', async () => {
    const r = await child('using');
    expect(r).toEqual({ open: true, probeClosed: true, counterClosed: true, counted: expect.any(Number), links: 0 });
    expect(r.counted).toBeGreaterThan(0); // the last snapshot, taken as it closed
  });

  test("with EventEmitter.captureRejections, an async listener's rejection is an 'error' event", async () => {
    const r = await child('rejection');
    expect(r.seen).toBeGreaterThan(0);
    expect(r.errors).toEqual(['async listener failed']);
  });
});
