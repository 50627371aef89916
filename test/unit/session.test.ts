/**
 * The session's own logic, against a fake native layer (no root, no kernel):
 * probe ids and their reuse, the limit on open probes, clean-up after a
 * failed attach, dispatch of records to their probes, loss accounting,
 * preloading, and errno -> typed error. Plus the kprobe_multi fallback.
 */
import { subscribe, unsubscribe } from 'diagnostics_channel';
import { ArgPlan } from '../../lib/core/decode';
import type { Probe } from '../../lib/core/probe';
import { AttachSpec, Backend, Session } from '../../lib/core/session';
import { attachFunctions, forgetKprobeMulti } from '../../lib/attach/kprobe';
import { NotFoundError, PermissionError, SystemError, UnsupportedError, VerifierError } from '../../lib/errors';
import { CFG_CGROUP, Source, Store, layout } from '../../lib/sys/abi';
import { toTypedError } from '../../lib/sys/errno';
import type { NativeTracer, TracerOptions } from '../../lib/sys/native';

/** An error as the addon throws it. */
function nativeError(code: string, log = ''): Error {
  return Object.assign(new Error(`${code} from the kernel`), { op: 'test op', errno: 1, code, log });
}

/** A NativeTracer that records what is asked of it and delivers the batches a test hands it. */
class FakeTracer implements NativeTracer {
  calls: string[] = [];
  configs = new Map<number, Buffer>();
  lostCounts = new Map<number, number>();
  onBatch?: (b: Buffer) => void;
  nextLink = 1;
  readyError?: Error;
  multiError?: Error;
  failAttach = new Map<string, Error>();
  attachKprobe(fn: string, ret: boolean, cookie: number): number {
    this.calls.push(`kprobe ${fn} ${cookie}`);
    const e = this.failAttach.get(fn);
    if (e) throw e;
    return this.nextLink++;
  }
  attachKprobeMulti(fns: string[], cookies: number[]): number {
    this.calls.push(`multi ${fns.join(',')} ${cookies.join(',')}`);
    if (this.multiError) throw this.multiError;
    return this.nextLink++;
  }
  attachTracepoint(category: string, name: string, cookie: number): number {
    this.calls.push(`tracepoint ${category}:${name} ${cookie}`);
    return this.nextLink++;
  }
  attachUprobe(): number {
    return this.nextLink++;
  }
  attachPerfEvent(cpu: number, rate: number, frequency: boolean, cookie: number): number {
    this.calls.push(`perf ${cpu} ${rate} ${frequency} ${cookie}`);
    return this.nextLink++;
  }
  detach(link: number): void {
    this.calls.push(`detach ${link}`);
  }
  handOff(links: number[]): boolean {
    this.calls.push(`handOff ${links.join(',')}`);
    return true;
  }
  setConfig(id: number, config: Buffer): void {
    this.configs.set(id, config);
  }
  cgroups = new Map<number, string>();
  setCgroup(id: number, dir: string | null): void {
    if (dir === null) this.cgroups.delete(id);
    else this.cgroups.set(id, dir);
  }
  lost(id: number): number {
    return this.lostCounts.get(id) ?? 0;
  }
  hist(): Float64Array {
    return new Float64Array(64);
  }
  histSum(): bigint {
    return 0n;
  }
  resetHist(id: number): void {
    this.calls.push(`resetHist ${id}`);
  }
  counts(): { keys: Buffer; values: Float64Array } {
    return { keys: Buffer.alloc(0), values: new Float64Array(0) };
  }
  clearCounts(ids: number[]): void {
    this.calls.push(`clearCounts ${ids.join(',')}`);
  }
  createStackMaps(entries: number): boolean {
    this.calls.push(`createStackMaps ${entries}`);
    return true;
  }
  dropStackMaps(): void {
    this.calls.push('dropStackMaps');
  }
  stackCounts(): { keys: Buffer; counts: Float64Array; pids: Uint32Array } {
    return { keys: Buffer.alloc(0), counts: new Float64Array(0), pids: new Uint32Array(0) };
  }
  clearStackCounts(id: number): void {
    this.calls.push(`clearStackCounts ${id}`);
  }
  stackTraces(_user: boolean, ids: number[]): Array<Buffer | null> {
    return ids.map(() => null);
  }
  onError?: (e: Error) => void;
  start(onBatch: (b: Buffer, length: number) => void, onError: (e: Error) => void): void {
    this.calls.push('start');
    // A test hands a batch in as the addon would: the records at the start of a buffer, and their length.
    this.onBatch = (b) => onBatch(Buffer.concat([b, Buffer.alloc(64)]), b.length);
    this.onError = onError;
  }
  stop(): void {
    this.calls.push('stop');
  }
  refd = true;
  ref(ref: boolean): void {
    this.refd = ref;
  }
  drain(): number {
    this.calls.push('drain');
    return 0;
  }
  info() {
    return {};
  }
  ready(): void {
    this.calls.push('ready');
    if (this.readyError) throw this.readyError;
  }
  close(): void {
    this.calls.push('close');
  }
  pin(): void {}
}

function fakeBackend(): Backend & { opened: TracerOptions[]; tracers: FakeTracer[]; next?: FakeTracer } {
  const b = {
    opened: [] as TracerOptions[],
    tracers: [] as FakeTracer[],
    next: undefined as FakeTracer | undefined,
    checkPrivileges: () => undefined,
    openTracer(options: TracerOptions) {
      b.opened.push(options);
      const t = b.next ?? new FakeTracer();
      b.next = undefined;
      b.tracers.push(t);
      return t;
    },
  };
  return b;
}

const OPTIONS = { ringBytes: 1 << 16, drainMs: 10, maxProbes: 8, maxCounts: 16 };

const plan: ArgPlan = { name: 'x', type: 'int', fetch: { source: Source.Reg, reg: 0, steps: [], store: Store.Value, size: 4, signed: true }, kind: 'i32' };

function spec(name: string, over: Partial<AttachSpec> = {}): AttachSpec {
  return {
    name,
    kind: 'tracepoint',
    strategy: `tracepoint ${name}`,
    parts: [{ name, plans: [plan], config: {} }],
    attach: (t, [id]) => [t.attachTracepoint('cat', name, id)],
    describe: `attach ${name}`,
    ...over,
  };
}

const R = layout.record;

/** One record of `probeId` from pid/tid with a single 8-byte argument `x`, behind its ring header. */
function record(probeId: number, pid: number, comm: string, x: number): Buffer {
  const r = Buffer.alloc(8 + R.size + 8);
  r.writeUInt32LE(R.size + 8, 0);
  const b = r.subarray(8);
  b.writeUInt32LE(b.length, R.size_);
  b.writeUInt32LE(probeId, R.probe_id);
  b.writeBigUInt64LE(123456789n, R.ns);
  b.writeUInt32LE(pid, R.pid);
  b.writeUInt32LE(pid + 1, R.tid);
  b.writeUInt32LE(1000, R.uid);
  b.writeUInt16LE(1, R.cpu);
  b.write(comm, R.comm, 'latin1');
  b.writeBigInt64LE(BigInt(x), R.size);
  return r;
}

function events(p: Probe): Array<{ pid: number; comm: string; x: unknown }> {
  const out: Array<{ pid: number; comm: string; x: unknown }> = [];
  p.on('event', (ev) => out.push({ pid: ev.pid, comm: ev.comm, x: ev.args.x }));
  return out;
}

describe('probe ids', () => {
  test('each probe gets the next id as its cookie; a closed probe gives its id back, cleared', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => s.attach(spec(n)));
    const t = backend.tracers[0];
    expect([a.id, b.id, c.id]).toEqual([1, 2, 3]);
    expect(t.calls.filter((x) => x.startsWith('tracepoint'))).toEqual(['tracepoint cat:a 1', 'tracepoint cat:b 2', 'tracepoint cat:c 3']);
    expect(t.configs.get(2)!.readUInt32LE(layout.config.flags) >>> 31).toBe(1); // enabled
    b.close();
    expect(t.configs.get(2)!.equals(Buffer.alloc(layout.config.size))).toBe(true);
    expect(t.calls).toEqual(expect.arrayContaining(['detach 2', 'drain', 'resetHist 2', 'clearCounts 2']));
    expect(s.attach(spec('d')).id).toBe(2);
    expect(backend.opened).toHaveLength(1); // one object for every probe
  });

  test("a reused id has a new generation: its config and its links' cookies carry it, so an old link's late hits are ignored", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    s.attach(spec('a')).close();
    const b = s.attach(spec('b'));
    const t = backend.tracers[0];
    expect(b.id).toBe(1);
    expect(t.configs.get(1)![layout.config.gen]).toBe(1);
    expect(t.calls.filter((x) => x.startsWith('tracepoint'))).toEqual(['tracepoint cat:a 1', `tracepoint cat:b ${(1 << 16) | 1}`]);
  });

  test('at most maxProbes - 1 open at once: the one too many is refused and takes no id', () => {
    const s = new Session({ ...OPTIONS, maxProbes: 3 }, { backend: fakeBackend() });
    const a = s.attach(spec('a'));
    s.attach(spec('b'));
    expect(() => s.attach(spec('c'))).toThrow(UnsupportedError);
    expect(() => s.attach(spec('many', { parts: [1, 2].map((i) => ({ name: `p${i}`, plans: [plan], config: {} })) }))).toThrow(/2 functions need as many probes/);
    a.close();
    expect(s.attach(spec('d')).id).toBe(a.id);
  });

  test('a failed attach leaves nothing attached, no config, and gives its ids back', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const attachErr = () => {
      throw nativeError('ENOENT');
    };
    expect(() => s.attach(spec('gone', { attach: attachErr, notFound: () => new NotFoundError('no tracepoint cat:gone') }))).toThrow('no tracepoint cat:gone');
    const t = backend.tracers[0];
    expect(t.configs.get(1)!.equals(Buffer.alloc(layout.config.size))).toBe(true);
    expect(() => s.attach(spec('perm', { attach: () => { throw nativeError('EPERM'); } }))).toThrow(PermissionError);
    expect(s.attach(spec('ok')).id).toBe(1);
  });
});

describe('dispatch', () => {
  test('records go to their probes, decoded; unknown ids are skipped; loss is reported per probe', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const b = s.attach(spec('b'));
    const t = backend.tracers[0];
    const ea = events(a);
    const eb = events(b);
    const lost: number[] = [];
    b.on('lost', (n) => lost.push(n));
    t.lostCounts.set(b.id, 5);
    t.onBatch!(Buffer.concat([record(a.id, 100, 'aa', -7), record(99, 1, 'x', 0), record(b.id, 200, 'bb', 42), record(a.id, 101, 'aa2', 1)]));
    expect(ea).toEqual([{ pid: 100, comm: 'aa', x: -7 }, { pid: 101, comm: 'aa2', x: 1 }]);
    expect(eb).toEqual([{ pid: 200, comm: 'bb', x: 42 }]);
    expect([a.seen, b.seen]).toEqual([2, 1]);
    expect(lost).toEqual([5]);
    t.lostCounts.set(b.id, 8);
    t.onBatch!(Buffer.alloc(0));
    expect(lost).toEqual([5, 3]);
    expect(b.lost).toBe(8);
  });

  test('records the kernel discarded, or too short to be ours, are skipped by their ring length', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const ea = events(a);
    const discarded = record(a.id, 1, 'x', 0);
    discarded.writeUInt32LE(discarded.readUInt32LE(0) | 0x40000000, 0);
    const short = Buffer.alloc(16);
    short.writeUInt32LE(8, 0);
    backend.tracers[0].onBatch!(Buffer.concat([record(a.id, 5, 'ok', 1), discarded, short, record(a.id, 6, 'next', 2)]));
    expect(ea.map((e) => e.pid)).toEqual([5, 6]);
  });

  test("'batch' listeners get every record of the batch at once, read by index", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const b = s.attach(spec('b'));
    const got: Array<[number, string, unknown]> = [];
    a.on('batch', (batch) => {
      for (let i = 0; i < batch.length; i++) got.push([batch.pid(i), batch.comm(i), batch.args(i).x]);
    });
    backend.tracers[0].onBatch!(Buffer.concat([record(a.id, 10, 'a1', 1), record(b.id, 20, 'b', 2), record(a.id, 11, 'a2', 3)]));
    expect(got).toEqual([[10, 'a1', 1], [11, 'a2', 3]]);
    expect(a.seen).toBe(2);
  });

  test('unref(): the reader stops holding the event loop once every open probe is unref\'d', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const b = s.attach(spec('b'));
    const t = backend.tracers[0];
    a.unref();
    expect(t.refd).toBe(true);
    b.unref();
    expect(t.refd).toBe(false);
    b.ref();
    expect(t.refd).toBe(true);
    b.close();
    expect(t.refd).toBe(false);
  });

  test('pause(): the ring is not read while any probe is paused; resume() reads it again; a closed probe lets go', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const b = s.attach(spec('b'));
    const t = backend.tracers[0];
    const reading = () => t.calls.filter((c) => c === 'start' || c === 'stop').at(-1);
    expect(reading()).toBe('start');
    a.pause();
    b.pause();
    expect(reading()).toBe('stop');
    a.resume();
    expect(reading()).toBe('stop'); // b still holds it
    b.close();
    expect(reading()).toBe('start');
    a.pause();
    a.close(); // the last probe: nothing to read
    expect(reading()).toBe('stop');
    const c = s.attach(spec('c'));
    expect(reading()).toBe('start');
    c.close();
  });

  test('a failure to read the ring is an error event on every open probe, typed', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    backend.tracers[0].onError!(nativeError('EIO'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SystemError);
    expect(errors[0].message).toMatch(/^read the ring buffer: /);
  });

  test("with no 'error' listener, a probe throws the error as EventEmitter does, once every probe has had it", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    s.attach(spec('silent'));
    const b = s.attach(spec('b'));
    const errors: Error[] = [];
    b.on('error', (e) => errors.push(e));
    const ticks = captureTicks(() => backend.tracers[0].onError!(nativeError('EIO')));
    expect(errors).toHaveLength(1);
    expect(ticks).toHaveLength(1);
    // EventEmitter throws the error itself (wrapped as ERR_UNHANDLED_ERROR when it comes from another realm, as here in jest).
    expect(() => ticks[0]()).toThrow(errors[0].message);
  });

  test("a 'lost' listener's exception surfaces on the next tick, not as an 'error' event", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    a.on('lost', () => {
      throw new Error('lost listener failed');
    });
    const t = backend.tracers[0];
    t.lostCounts.set(a.id, 2);
    const ticks = captureTicks(() => t.onBatch!(Buffer.alloc(0)));
    expect(errors).toEqual([]);
    expect(a.lost).toBe(2);
    expect(() => ticks[0]()).toThrow('lost listener failed');
  });

  test("a listener's exception surfaces after the whole batch is delivered", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    const b = s.attach(spec('b'));
    a.on('event', () => {
      throw new Error('listener failed');
    });
    const eb = events(b);
    // Rethrown on the next tick, as an exception from any event-loop callback would be.
    const ticks: Array<() => void> = [];
    const spy = jest.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => void ticks.push(fn)) as never);
    try {
      backend.tracers[0].onBatch!(Buffer.concat([record(a.id, 1, 'a', 0), record(b.id, 2, 'b', 0)]));
    } finally {
      spy.mockRestore();
    }
    expect(eb).toHaveLength(1);
    expect(ticks).toHaveLength(1);
    expect(() => ticks[0]()).toThrow('listener failed');
  });
});

/** Runs `fn` with process.nextTick captured; returns what it scheduled. */
function captureTicks(fn: () => void): Array<() => void> {
  const ticks: Array<() => void> = [];
  const spy = jest.spyOn(process, 'nextTick').mockImplementation(((f: () => void) => void ticks.push(f)) as never);
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return ticks;
}

describe('cgroups and channels', () => {
  test("a part's cgroup goes to the kernel before its config; closing forgets it", () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const p = s.attach(spec('a', { parts: [{ name: 'a', plans: [plan], config: { cgroup: '/sys/fs/cgroup/unified/app' } }] }));
    const t = backend.tracers[0];
    expect(t.cgroups.get(p.id)).toBe('/sys/fs/cgroup/unified/app');
    expect(t.configs.get(p.id)!.readUInt32LE(layout.config.flags) & CFG_CGROUP).toBe(CFG_CGROUP);
    p.close();
    expect(t.cgroups.has(p.id)).toBe(false);
  });

  test('attach, detach, lost and error are published on diagnostics_channel', () => {
    const got: string[] = [];
    const on = (name: string) => (m: unknown) => {
      const { probe, count, error } = m as { probe: Probe; count?: number; error?: Error };
      got.push([name, probe.name, count, error?.message].filter((x) => x !== undefined).join(' '));
    };
    const handlers = ['attach', 'detach', 'lost', 'error'].map((n) => [`kprobe-node:${n}`, on(n)] as const);
    for (const [ch, h] of handlers) subscribe(ch, h);
    try {
      const backend = fakeBackend();
      const s = new Session(OPTIONS, { backend });
      const a = s.attach(spec('a'));
      a.on('error', () => undefined);
      const t = backend.tracers[0];
      t.lostCounts.set(a.id, 3);
      t.onBatch!(Buffer.alloc(0));
      t.onError!(nativeError('EIO'));
      a.close();
      expect(got).toEqual(['attach a', 'lost a 3', 'error a read the ring buffer: EIO from the kernel', 'detach a']);
    } finally {
      for (const [ch, h] of handlers) unsubscribe(ch, h);
    }
  });
});

describe('loading', () => {
  test('preload starts the load on a native thread with the named program; the first attach waits for it', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    s.preload('kn_tracepoint');
    expect(backend.opened).toEqual([expect.objectContaining({ background: true, programs: ['kn_tracepoint'] })]);
    s.attach(spec('a'));
    expect(backend.opened).toHaveLength(1);
    expect(backend.tracers[0].calls.indexOf('ready')).toBeLessThan(backend.tracers[0].calls.indexOf('tracepoint cat:a 1'));
  });

  test('without a preload, the first attach loads only the program it needs, in the foreground', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    s.attach(spec('k', { kind: 'kprobe' }));
    expect(backend.opened).toEqual([expect.objectContaining({ background: false, programs: ['kn_kprobe'] })]);
  });

  test("a preload's failure surfaces, typed, at the first attach; the next attach loads afresh", () => {
    const backend = fakeBackend();
    const failing = new FakeTracer();
    failing.readyError = nativeError('EPERM');
    backend.next = failing;
    const s = new Session(OPTIONS, { backend });
    s.preload('kn_tracepoint');
    expect(() => s.attach(spec('a'))).toThrow(PermissionError);
    expect(s.attach(spec('b')).id).toBe(1);
    expect(backend.opened).toHaveLength(2);
  });

  test('closing for a process about to exit hands the links to the kernel instead of waiting', () => {
    const backend = fakeBackend();
    const s = new Session(OPTIONS, { backend });
    const a = s.attach(spec('a'));
    s.detachInBackground();
    a.close();
    const calls = backend.tracers[0].calls;
    expect(calls).toContain('handOff 1');
    expect(calls).not.toContain('detach 1');
  });
});

describe('kprobe_multi and its fallback', () => {
  beforeEach(() => forgetKprobeMulti());

  test('many functions: one kprobe_multi link, each function with its cookie', () => {
    const t = new FakeTracer();
    const r = attachFunctions(t, ['f1', 'f2'], [4, 5], false);
    expect(t.calls).toEqual(['multi f1,f2 4,5']);
    expect(r.links).toHaveLength(1);
  });

  test('where kprobe_multi is missing: one kprobe each, remembered for the next pattern; failures are skipped', () => {
    const t = new FakeTracer();
    t.multiError = nativeError('EOPNOTSUPP');
    t.failAttach.set('f2', nativeError('EINVAL'));
    const progress: string[] = [];
    const r = attachFunctions(t, ['f1', 'f2', 'f3'], [1, 2, 3], true, (d, n) => progress.push(`${d}/${n}`));
    expect(t.calls).toEqual(['multi f1,f2,f3 1,2,3', 'kprobe f1 1', 'kprobe f2 2', 'kprobe f3 3']);
    expect(r.links).toHaveLength(2);
    expect(r.skipped.map((s) => s.name)).toEqual(['f2']);
    expect(r.strategy).toMatch(/kprobe_multi: .*one kretprobe per function instead\nstrategy: 2 kretprobes, one per function/);
    expect(progress).toEqual(['3/3']);
    t.calls = [];
    attachFunctions(t, ['g1', 'g2'], [7, 8], false);
    expect(t.calls).toEqual(['kprobe g1 7', 'kprobe g2 8']);
  });

  test('none attaching at all is an error; one function failing is that error', () => {
    const t = new FakeTracer();
    t.multiError = nativeError('ENOSYS');
    for (const f of ['a', 'b']) t.failAttach.set(f, nativeError('EBUSY'));
    expect(() => attachFunctions(t, ['a', 'b'], [1, 2], false)).toThrow(/none of the 2 functions could be attached/);
    expect(() => attachFunctions(t, ['a'], [1], false)).toThrow(/EBUSY/);
  });
});

describe('errno -> typed error', () => {
  test.each([
    ['EPERM', PermissionError],
    ['EACCES', PermissionError],
    ['ENOENT', NotFoundError],
    ['EOPNOTSUPP', UnsupportedError],
    ['ENOSYS', UnsupportedError],
    ['EBUSY', SystemError],
  ])('%s', (code, cls) => {
    const e = toTypedError(nativeError(code), 'attach x') as Error & { errno?: string };
    expect(e).toBeInstanceOf(cls);
    expect(e.errno).toBe(code);
    expect(e.message).toMatch(/^attach x: /);
  });

  test("a verifier log makes a VerifierError with the log's last reason", () => {
    const log = 'func#0 @0\n0: (b7) r0 = 0\n7: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem access\nprocessed 8 insns (limit 1000000)';
    const e = toTypedError(nativeError('EACCES', log), 'load') as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.message).toBe("load: the kernel's verifier rejected the program: 7: (79) r1 = *(u64 *)(r0 +0) / R0 invalid mem access");
    expect(e.log).toBe(log);
  });

  test('what is not from the addon passes through untouched', () => {
    const plain = new RangeError('x');
    expect(toTypedError(plain, 'y')).toBe(plain);
  });
});
