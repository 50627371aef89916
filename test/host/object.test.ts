/**
 * A user's own BPF object, compiled here with clang and loaded through
 * openObject(): what its ring buffer, perf buffer and maps hold equals what
 * a child (with a comm no other process has) caused; `const volatile`
 * globals change what the program does; globals written after load reach
 * it; closing the object, or killing its process, leaves no program or
 * link; failures are typed errors that say what is wrong.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, OptionError, RingBuffer, UnsupportedError, VerifierError, openObject } from '../../lib';
import { bpfObjectsOf, stillLoaded } from '../helpers/bpf-objects';
import { PT_REGS, compileBpf } from '../helpers/clang';
import { describeHost } from '../helpers/host';
import { COUNTER_SOURCE, runGetppid, tempDir, uniqueWorkload } from '../helpers/objects';
import { Child, sleep, until } from '../helpers/proc';
import { Uprog, buildUprog } from '../helpers/uprog';

jest.setTimeout(60_000);

interface Event {
  pid: number;
  tid: number;
  comm: string;
  ns: bigint;
  kind: string | number;
  seq: number[];
  inner: { small: number; negative: number };
  cookie: bigint;
  flag: number;
  level: number;
}

interface Key {
  comm: string;
  pid: number;
}

describeHost('user BPF objects', { root: true, tracefs: true, tools: ['clang', 'bpftool', 'gcc'] }, () => {
  let dir: string;
  let counter: string;
  let exe: string;
  let comm: string;

  beforeAll(() => {
    dir = tempDir();
    counter = compileBpf('counter', COUNTER_SOURCE, { dir });
    ({ exe, comm } = uniqueWorkload(dir, 'obj'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Starts collecting a reader's records (before anything happens); `wait(n)` resolves once n arrived, or after 5 s. */
  function collector<T>(ring: RingBuffer<T>): { got: T[]; wait: (count: number) => Promise<T[]> } {
    const got: T[] = [];
    ring.on('event', (e) => got.push(e));
    return {
      got,
      wait: async (count) => {
        await until(() => {
          ring.flush();
          return got.length >= count;
        }, 5000);
        await sleep(50);
        ring.flush();
        return got;
      },
    };
  }

  test('the ring buffer, the perf buffer and the maps hold exactly what the child did', async () => {
    const obj = openObject(counter, { rodata: { target_comm: comm } }).load();
    try {
      expect(obj.rodata.target_comm).toBe(comm);
      obj.attach('on_getppid');
      const ring = obj.ringBuffer('events', 'struct event', { lost: 'dropped' }) as RingBuffer<Event>;
      const perf = obj.perfBuffer('perf_events', 'struct event') as RingBuffer<Event>;
      const [fromRing, fromPerf] = [collector(ring), collector(perf)];
      const N = 50;
      const pid = await runGetppid(exe, N);
      const [events, perfEvents] = await Promise.all([fromRing.wait(N), fromPerf.wait(N)]);

      expect(events).toHaveLength(N);
      expect(ring.lost).toBe(0);
      for (const [i, e] of events.entries()) {
        expect(e).toEqual({
          pid, tid: pid, comm, ns: expect.any(BigInt), kind: 'KIND_GETPPID', seq: [i, 0, 0xffff],
          inner: { small: 200, negative: -5 }, cookie: 0n, flag: 1, level: 5,
        });
      }
      expect(perfEvents.map((e) => e.seq[0]).sort((a, b) => a - b)).toEqual(events.map((e) => e.seq[0]));
      expect(perf.lost).toBe(0);

      const counts = obj.maps.counts.entries();
      expect(counts).toEqual([[{ comm, pid }, BigInt(N)]]);
      expect(obj.maps.counts.get({ comm, pid })).toBe(BigInt(N));
      expect(obj.maps.counts.lastRead).toBe('batch');

      const perCpu = obj.maps.per_cpu.get(0) as bigint[];
      expect(perCpu).toHaveLength(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')
        .reduce((n, r) => n + (r.includes('-') ? Number(r.split('-')[1]) - Number(r.split('-')[0]) + 1 : 1), 0));
      expect(perCpu.reduce((a, b) => a + b, 0n)).toBe(BigInt(N));

      const last = obj.maps.last.get(pid) as Event;
      expect(last).toMatchObject({ pid, comm, kind: 'KIND_GETPPID', seq: [N - 1, 0, 0xffff] });
      expect(obj.globals.dropped).toBe(0n);
      expect(obj.globals.seq_no).toBe(N);
    } finally {
      obj.close();
    }
  });

  test('const volatile globals change what the loaded program does', async () => {
    const matching = openObject(counter, { rodata: { target_comm: comm } }).load();
    const otherComm = openObject(counter, { rodata: { target_comm: 'kn_nobody_here' } }).load();
    const otherPid = openObject(counter, { rodata: { target_comm: comm, target_tgid: 1 } }).load();
    try {
      for (const o of [matching, otherComm, otherPid]) o.attach('on_getppid');
      const pid = await runGetppid(exe, 20);
      expect(matching.maps.counts.entries()).toEqual([[{ comm, pid }, 20n]]);
      expect(otherComm.maps.counts.entries()).toEqual([]);
      // The comm matches, but the tgid filter (1) does not.
      expect(otherPid.maps.counts.entries()).toEqual([]);
      expect(otherPid.rodata.target_tgid).toBe(1);
      expect(() => {
        otherPid.rodata.target_tgid = 2;
      }).toThrow(/frozen once the object is loaded/);
    } finally {
      for (const o of [matching, otherComm, otherPid]) o.close();
    }
  });

  test('a global written after load reaches the program', async () => {
    const obj = openObject(counter, { rodata: { target_comm: comm } }).load();
    try {
      obj.attach('on_getppid');
      expect(obj.globals.step).toBe(1);
      obj.globals.step = 5;
      expect(obj.globals.step).toBe(5);
      await runGetppid(exe, 10);
      const total = (obj.maps.per_cpu.get(0) as bigint[]).reduce((a, b) => a + b, 0n);
      expect(total).toBe(50n);
    } finally {
      obj.close();
    }
  });

  test('a program attached explicitly gets its BPF cookie; its link closes on its own', async () => {
    const obj = openObject(counter, { rodata: { target_comm: comm } }).load();
    try {
      expect(() => obj.attach('tagged')).toThrow(OptionError);
      expect(() => obj.attach('tagged')).toThrow(/names no target: attach it with attach\('tagged', \{ tracepoint: 'sched:sched_switch' \}\)/);
      const link = obj.attach('tagged', { tracepoint: 'syscalls:sys_enter_getppid', cookie: 0x1234_5678_9abcn });
      expect(link.target).toBe('tracepoint syscalls:sys_enter_getppid');
      const ring = collector(obj.ringBuffer('events', 'struct event') as RingBuffer<Event>);
      await runGetppid(exe, 3);
      const events = await ring.wait(3);
      expect(events.map((e) => [e.kind, e.cookie])).toEqual(Array(3).fill(['KIND_TAGGED', 0x1234_5678_9abcn]));
      const id = link.id;
      expect(stillLoaded({ progs: [], links: [id] }).links).toEqual([id]);
      link.close();
      expect(link.closed).toBe(true);
      expect(stillLoaded({ progs: [], links: [id] }).links).toEqual([]);
      await runGetppid(exe, 3);
      expect(obj.maps.counts.entries()[0][1]).toBe(3n);
    } finally {
      obj.close();
    }
  });

  test('an async iterator over the ring buffer ends the reader when the loop is left', async () => {
    const obj = openObject(counter, { rodata: { target_comm: comm } }).load();
    try {
      obj.attach('on_getppid');
      const ring = obj.ringBuffer('events', 'struct event') as RingBuffer<Event>;
      const run = runGetppid(exe, 5);
      const seqs: number[] = [];
      for await (const e of ring) {
        seqs.push(e.seq[0]);
        if (seqs.length === 5) break;
      }
      await run;
      expect(seqs).toEqual([0, 1, 2, 3, 4]);
      expect(ring.closed).toBe(true);
    } finally {
      obj.close();
    }
  });

  test('records the program could not reserve are counted: seen + lost is every hit', async () => {
    const obj = openObject(counter, { rodata: { target_comm: comm }, maps: { events: { maxEntries: 4096 } } }).load();
    try {
      obj.attach('on_getppid');
      const ring = obj.ringBuffer('events', 'struct event', { lost: 'dropped' });
      let announced = 0;
      ring.on('lost', (n) => (announced += n));
      const N = 2000;
      // The child runs while this thread waits for it: nothing drains the 4 KiB ring meanwhile.
      const r = spawnSync(exe, ['getppid', String(N)], { input: 'x' });
      expect(r.status).toBe(0);
      ring.flush();
      await sleep(300); // the loss timer reports without new records
      expect(obj.globals.dropped).toBeGreaterThan(0n);
      expect(ring.lost).toBe(Number(obj.globals.dropped));
      expect(announced).toBe(ring.lost);
      expect(ring.seen + ring.lost).toBe(N);
    } finally {
      obj.close();
    }
  });

  test('maps from JavaScript: hash, array, per-CPU, LRU; batch reads of many entries', () => {
    const obj = openObject(counter, { maps: { counts: { maxEntries: 16384 } } }).load();
    try {
      const counts = obj.maps.counts;
      expect(counts.maxEntries).toBe(16384);
      expect(counts.keyType).toBe('struct key');
      const key = { comm: 'a', pid: 1 };
      expect(counts.get(key)).toBeUndefined();
      expect(counts.has(key)).toBe(false);
      counts.set(key, 41n);
      expect(counts.get(key)).toBe(41n);
      expect(() => counts.set(key, 1n, 'create')).toThrow(/the key exists already/);
      expect(() => counts.set({ comm: 'b', pid: 2 }, 1n, 'update')).toThrow(NotFoundError);
      expect(counts.delete(key)).toBe(true);
      expect(counts.delete(key)).toBe(false);

      // More entries than one batch (4096) holds: every one comes back.
      const want = new Map<string, bigint>();
      for (let i = 0; i < 5000; i++) {
        counts.set({ comm: `c${i}`, pid: i }, BigInt(i * 3));
        want.set(`c${i}/${i}`, BigInt(i * 3));
      }
      const got = counts.entries() as Array<[Key, bigint]>;
      expect(counts.lastRead).toBe('batch');
      expect(new Map(got.map(([k, v]) => [`${k.comm}/${k.pid}`, v]))).toEqual(want);
      expect(counts.clear()).toBe(5000);
      expect(counts.entries()).toEqual([]);

      const slots = obj.maps.slots;
      slots.set(2, { comm: 'two', pid: 22 });
      expect(slots.get(2)).toEqual({ comm: 'two', pid: 22 });
      expect(slots.get(0)).toEqual({ comm: '', pid: 0 });
      expect(slots.entries()).toHaveLength(4);
      expect(() => slots.delete(2)).toThrow(/its keys cannot be deleted/);
      expect(() => slots.set(4, { comm: '', pid: 0 })).toThrow(/4/);

      const perCpu = obj.maps.per_cpu;
      const cpus = (perCpu.get(0) as bigint[]).length;
      perCpu.set(0, Array.from({ length: cpus }, (_, i) => BigInt(i + 1)));
      expect(perCpu.get(0)).toEqual(Array.from({ length: cpus }, (_, i) => BigInt(i + 1)));
      expect(() => perCpu.set(0, 5n)).toThrow(/per-CPU: its value is an array/);

      const last = obj.maps.last;
      for (let pid = 1; pid <= 200; pid++) last.set(pid, { pid, comm: 'x' });
      // An LRU map keeps at most its size, dropping the least recently used.
      expect(last.entries().length).toBeLessThanOrEqual(64);
      expect(last.get(200)).toMatchObject({ pid: 200, comm: 'x', kind: 0 });
    } finally {
      obj.close();
    }
  });

  test('an LPM trie matches prefixes; a stack trace map, which has no batch lookup, is read key by key', async () => {
    const src = compileBpf('kinds', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
const volatile char target_comm[16] = "";
struct prefix { __u32 len; __u8 addr[4]; };
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct prefix);
  __type(value, __u32);
} routes SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u64[16]);
} stacks SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx) {
  char comm[16];
  bpf_get_current_comm(comm, sizeof(comm));
  for (int i = 0; i < 16; i++) {
    if (comm[i] != target_comm[i]) return 0;
    if (!comm[i]) break;
  }
  bpf_get_stackid(ctx, &stacks, 0);
  return 0;
}
`, { dir });
    const obj = openObject(src, { rodata: { target_comm: comm } }).load();
    try {
      const routes = obj.maps.routes;
      routes.set({ len: 8, addr: new Uint8Array([10, 0, 0, 0]) }, 1);
      routes.set({ len: 24, addr: [192, 168, 1, 0] }, 2);
      const got = routes.entries() as Array<[{ len: number; addr: Uint8Array }, number]>;
      expect(got.map(([k, v]) => [k.len, [...k.addr], v]).sort()).toEqual([[24, [192, 168, 1, 0], 2], [8, [10, 0, 0, 0], 1]].sort());
      // Longest prefix match, in the kernel:
      expect(routes.get({ len: 32, addr: [10, 1, 2, 3] })).toBe(1);
      expect(routes.get({ len: 32, addr: [11, 1, 2, 3] })).toBeUndefined();

      obj.attach('on_getppid');
      await runGetppid(exe, 3);
      const stacks = obj.maps.stacks.entries() as Array<[number, bigint[]]>;
      expect(obj.maps.stacks.lastRead).toBe('iteration');
      expect(stacks.length).toBeGreaterThanOrEqual(1);
      for (const [, frames] of stacks) {
        expect(frames).toHaveLength(16);
        // Kernel text: the top half of the address space.
        expect(frames[0] >= 0xffff800000000000n).toBe(true);
      }
    } finally {
      obj.close();
    }
  });

  test('a uprobe program attached to a user function reads its arguments', async () => {
    const uprog = buildUprog();
    const obj = openObject(
      compileBpf('adds', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
${PT_REGS}
char LICENSE[] SEC("license") = "GPL";
struct args { int a; int b; };
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, struct args);
} seen SEC(".maps");
SEC("uprobe")
int on_add(struct pt_regs *ctx) {
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  struct args v = { (int)ctx->di, (int)ctx->si };
  bpf_map_update_elem(&seen, &pid, &v, BPF_ANY);
  return 0;
}
`, { dir }),
    ).load();
    try {
      const child = new Uprog(uprog);
      const pid = await child.ready();
      const link = obj.attach('on_add', { uprobe: uprog, symbol: 'kn_add', pid });
      expect(link.target).toBe(`uprobe ${uprog}:kn_add`);
      await child.go();
      expect(obj.maps.seen.get(pid)).toEqual({ a: 20, b: 22 });
    } finally {
      obj.close();
      fs.rmSync(path.dirname(uprog), { recursive: true, force: true });
    }
  });

  test('a raw tracepoint program attached explicitly counts the child\'s getppid calls', async () => {
    const raw = compileBpf('rawtp', String.raw`
#include <linux/bpf.h>
#include <asm/unistd.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
const volatile char target_comm[16] = "";
__u64 getppids = 0;
SEC("raw_tp")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx) {
  char comm[16];
  bpf_get_current_comm(comm, sizeof(comm));
  for (int i = 0; i < 16; i++) {
    if (comm[i] != target_comm[i]) return 0;
    if (!comm[i]) break;
  }
  if (ctx->args[1] == __NR_getppid) __sync_fetch_and_add(&getppids, 1);
  return 0;
}
`, { dir });
    const obj = openObject(raw, { rodata: { target_comm: comm } }).load();
    try {
      const link = obj.attach('on_sys_enter', { rawTracepoint: 'sys_enter' });
      expect(link.target).toBe('raw_tracepoint sys_enter');
      await runGetppid(exe, 7);
      link.close();
      await runGetppid(exe, 5);
      expect(obj.globals.getppids).toBe(7n);
    } finally {
      obj.close();
    }
  });

  test('{ signal }: an abort closes the object and detaches it; an aborted signal opens nothing', async () => {
    const ac = new AbortController();
    const obj = openObject(counter, { rodata: { target_comm: comm }, signal: ac.signal }).load();
    obj.attach('on_getppid');
    const ring = obj.ringBuffer('events', 'struct event');
    const links = obj.info().links.map((l) => l.id);
    expect(stillLoaded({ progs: [], links })).toEqual({ progs: [], links });
    ac.abort();
    expect(obj.state).toBe('closed');
    expect(ring.closed).toBe(true);
    expect(await until(() => stillLoaded({ progs: [], links }).links.length === 0, 5000)).toBe(true);
    const before = bpfObjectsOf('self');
    const aborted = AbortSignal.abort(new Error('shutting down'));
    expect(() => openObject(counter, { signal: aborted })).toThrow('shutting down');
    expect(bpfObjectsOf('self')).toEqual(before);
    expect(() => openObject(counter, { signal: 'soon' as unknown as AbortSignal })).toThrow(OptionError);
  });

  test('closing the object leaves no program, link or map of it in the kernel', async () => {
    const before = bpfObjectsOf('self');
    const obj = openObject(counter).load();
    obj.attach('on_getppid');
    obj.attach('tagged', { tracepoint: 'syscalls:sys_enter_getppid' });
    const ring = obj.ringBuffer('events', 'struct event');
    const info = obj.info();
    const mine = { progs: info.programs.map((p) => p.id), links: info.links.map((l) => l.id) };
    expect(mine.progs).toHaveLength(2);
    expect(mine.links).toHaveLength(2);
    expect(stillLoaded(mine)).toEqual(mine);
    const maps = info.maps.map((m) => m.id);
    obj.close();
    obj.close(); // idempotent
    expect(ring.closed).toBe(true);
    expect(obj.state).toBe('closed');
    expect(() => obj.maps.counts.entries()).toThrow(/is closed/);
    expect(bpfObjectsOf('self')).toEqual(before);
    // Programs and maps go once the kernel has released them (after an RCU grace period).
    expect(await until(() => stillLoaded(mine).progs.length === 0 && stillLoaded(mine).links.length === 0, 5000)).toBe(true);
    const mapIds = new Set((JSON.parse(require('child_process').execFileSync('bpftool', ['map', 'list', '-j'], { encoding: 'utf8' })) as Array<{ id: number }>).map((m) => m.id));
    expect(await until(() => maps.every((id) => !mapIds.has(id)), 5000)).toBe(true);
  });

  test('killing the process that holds an object detaches its programs', async () => {
    const child = new Child(process.execPath, [path.join(__dirname, '..', 'helpers', 'object-child.js'), counter]);
    const m = await child.waitFor(/^ids (.*)$/m, 20000);
    const ids = JSON.parse(m[1]) as { progs: number[]; links: number[] };
    expect(ids.links).toHaveLength(1);
    expect(stillLoaded(ids)).toEqual(ids);
    child.kill('SIGKILL');
    await child.exited;
    expect(await until(() => {
      const left = stillLoaded(ids);
      return left.progs.length === 0 && left.links.length === 0;
    }, 5000)).toBe(true);
  });

  describe('errors say what is wrong', () => {
    test('rodata: unknown names, wrong types, values that do not fit', () => {
      expect(() => openObject(counter, { rodata: { target_com: 'x' } })).toThrow(NotFoundError);
      expect(() => openObject(counter, { rodata: { target_com: 'x' } })).toThrow(/no const volatile global target_com .*did you mean target_comm/);
      expect(() => openObject(counter, { rodata: { step: 2 } })).toThrow(/step is not const volatile \(it is in \.data\)/);
      expect(() => openObject(counter, { rodata: { target_tgid: 'x' } })).toThrow(/rodata\.target_tgid: expected an integer, got "x"/);
      expect(() => openObject(counter, { rodata: { target_tgid: -1 } })).toThrow(/does not fit in u32/);
      expect(() => openObject(counter, { rodata: { target_comm: 'a_name_longer_than_16' } })).toThrow(/char\[16\] holds at most 16/);
      expect(() => openObject(counter, { maps: { count: { maxEntries: 4 } } })).toThrow(/no map count .*did you mean counts/);
      expect(() => openObject(counter, { maps: { events: { maxEntries: 5000 } } })).toThrow(/power of two/);
    });

    test('programs, maps and types that do not exist; using an object before load', () => {
      const obj = openObject(counter);
      try {
        expect(() => obj.attach('on_getppid')).toThrow(/load\(\) the object counter first/);
        expect(() => obj.maps.counts.get({ comm: 'x', pid: 1 })).toThrow(/load\(\) the object/);
        obj.load();
        expect(() => obj.attach('on_getpid')).toThrow(/has no program on_getpid \(it has on_getppid, tagged\).*did you mean on_getppid/);
        expect(() => obj.ringBuffer('event', 'struct event')).toThrow(/no map event \(its ringbuf maps: events\).*did you mean events/);
        expect(() => obj.ringBuffer('counts', 'struct event')).toThrow(/map counts is a hash, not a ringbuf/);
        expect(() => obj.ringBuffer('events', 'struct evnt')).toThrow(/no type struct evnt in its BTF.*did you mean struct event/s);
        expect(() => obj.maps.counts.set({ comm: 'x', pid: 1, tid: 2 } as never, 1n)).toThrow(/struct key has no member tid \(it has comm, pid\)/);
        expect(() => obj.ringBuffer('events', 'struct event', { lost: 'droped' })).toThrow(/no global or map droped.*did you mean dropped/);
      } finally {
        obj.close();
      }
    });

    test('a section naming a tracepoint that does not exist names those that do', () => {
      const typo = compileBpf('typo', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("tp/sched/sched_swtch")
int on_switch(void *ctx) { return 0; }
`, { dir });
      const obj = openObject(typo).load();
      try {
        expect(() => obj.attach('on_switch')).toThrow(NotFoundError);
        expect(() => obj.attach('on_switch')).toThrow('attach on_switch: no tracepoint sched:sched_swtch (did you mean sched:sched_switch');
        expect(() => obj.attach('on_switch', { tracepoint: 'sched:nope_kn' })).toThrow(/no tracepoint sched:nope_kn/);
        expect(() => obj.attach('on_switch', { tracepoint: 'no colon' })).toThrow(/a tracepoint is category:name/);
        expect(() => obj.attach('on_switch', { tracepoint: 'sched:sched_switch', kprobe: 'x' } as never)).toThrow(/exactly one of .*got kprobe, tracepoint/);
      } finally {
        obj.close();
      }
    });

    test('a verifier rejection is a VerifierError with the log', () => {
      const bad = compileBpf('bad', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } m SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int unchecked(void *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&m, &k);
  return *v > 3;
}
`, { dir });
      const obj = openObject(bad);
      let e: unknown;
      try {
        obj.load();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(VerifierError);
      expect((e as VerifierError).message).toMatch(/^load bad: the kernel's verifier rejected the program: .*invalid mem access 'map_value_or_null'/);
      expect((e as VerifierError).log).toContain("prog 'unchecked'");
      expect(obj.state).toBe('closed');
    });

    test('a field the running kernel lacks names the type and the field', () => {
      const reloc = compileBpf('reloc', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
char LICENSE[] SEC("license") = "GPL";
struct task_struct { int no_such_field_kn; } __attribute__((preserve_access_index));
__u64 out;
SEC("tracepoint/syscalls/sys_enter_getppid")
int reads_missing(void *ctx) {
  struct task_struct *t = (void *)bpf_get_current_task();
  out = BPF_CORE_READ(t, no_such_field_kn);
  return 0;
}
`, { dir });
      const obj = openObject(reloc);
      let e: unknown;
      try {
        obj.load();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(UnsupportedError);
      expect((e as UnsupportedError).feature).toBe('struct task_struct.no_such_field_kn');
      expect((e as UnsupportedError).message).toMatch(/^load reloc: program reads_missing reads struct task_struct\.no_such_field_kn, which this kernel's BTF does not have/);
      expect((e as UnsupportedError).log).toContain('failed to resolve CO-RE relocation');
    });

    test('a kprobe program on a kernel without kprobes is refused by name, before the kernel is asked', () => {
      const kp = compileBpf('kp', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
__u64 calls;
SEC("kprobe/vfs_read")
int on_read(void *ctx) { __sync_fetch_and_add(&calls, 1); return 0; }
`, { dir });
      const obj = openObject(kp).load();
      try {
        expect(obj.programs).toEqual([{ name: 'on_read', section: 'kprobe/vfs_read', kind: 'kprobe', target: 'vfs_read' }]);
        if (fs.existsSync('/sys/bus/event_source/devices/kprobe')) return; // this kernel has them: the VM test attaches
        expect(() => obj.attach('on_read')).toThrow(UnsupportedError);
        expect(() => obj.attach('on_read')).toThrow(/kprobes are not available on this kernel/);
      } finally {
        obj.close();
      }
    });

    test('not a BPF object', () => {
      const text = path.join(dir, 'not.o');
      fs.writeFileSync(text, 'hello');
      expect(() => openObject(text)).toThrow(/not an ELF file/);
      expect(() => openObject(path.join(dir, 'missing.bpf.o'))).toThrow(NotFoundError);
      expect(() => openObject(process.execPath)).toThrow(/is not a BPF object \(ELF machine \d+\): compile it with clang -target bpf/);
      const nobtf = compileBpf('nobtf', '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\nSEC("tp/a/b") int f(void *c) { return 0; }\n', { dir, flags: ['-g0'] });
      expect(() => openObject(nobtf)).toThrow(/has no BTF \(\.BTF section\): compile it with clang -g/);
    });
  });

  test('a program left out with autoload: false is neither loaded nor attached', () => {
    const obj = openObject(counter, { autoload: { tagged: false } }).load();
    try {
      expect(obj.info().programs.map((p) => [p.name, p.id > 0])).toEqual([['on_getppid', true], ['tagged', false]]);
      expect(obj.attachAll().map((l) => l.program)).toEqual(['on_getppid']);
      expect(() => obj.attach('tagged', { tracepoint: 'syscalls:sys_enter_getppid' })).toThrow('attach tagged: the program was not loaded (autoload: false)');
      expect(() => openObject(counter, { autoload: { taged: false } })).toThrow(/no program taged .*did you mean tagged/);
    } finally {
      obj.close();
    }
  });

  test('a buffer opens too, named by the caller', () => {
    const obj = openObject(fs.readFileSync(counter), { name: 'from_mem' });
    try {
      expect(obj.name).toBe('from_mem');
      expect(obj.programs.map((p) => p.name)).toEqual(['on_getppid', 'tagged']);
      expect(Object.keys(obj.maps).sort()).toEqual(['counts', 'last', 'per_cpu', 'slots']);
      expect(Object.keys(obj.globals).sort()).toEqual(['dropped', 'seq_no', 'step', 'unused_event']);
      expect(obj.rodata.target_comm).toBe('');
    } finally {
      obj.close();
    }
  });
});
