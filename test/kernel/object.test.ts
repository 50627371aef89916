/**
 * A user's own kprobe programs, compiled here with clang and loaded with
 * openObject(), inside the test VM (scripts/vmtest) whose kernel has kprobes:
 * attached by section (kprobe/, kretprobe/, ksyscall/) and explicitly, their
 * ring buffer and maps hold what this process did, and closing detaches them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RingBuffer, kernelFeatures, openObject } from '../../lib';
import { stillLoaded } from '../helpers/bpf-objects';
import { PT_REGS, compileBpf } from '../helpers/clang';
import { until } from '../helpers/proc';

jest.setTimeout(120_000);

const SOURCE = String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
${PT_REGS}
char LICENSE[] SEC("license") = "GPL";

struct fsync_event {
  __u32 pid;
  int datasync;
  long long start;
  long long end;
  char comm[16];
  __u64 cookie;
};
struct fsync_event *unused_event __attribute__((unused));

const volatile __u32 target_tgid = 0;

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, long long); } returns SEC(".maps");

__u64 syscalls = 0;

static __always_inline int mine(void) {
  return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void emit(struct pt_regs *ctx, __u64 cookie) {
  struct fsync_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return;
  e->pid = bpf_get_current_pid_tgid() >> 32;
  e->start = (long long)ctx->si;
  e->end = (long long)ctx->dx;
  e->datasync = (int)ctx->cx;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  e->cookie = cookie;
  bpf_ringbuf_submit(e, 0);
}

SEC("kprobe/vfs_fsync_range")
int on_fsync(struct pt_regs *ctx) {
  if (mine()) emit(ctx, 0);
  return 0;
}

SEC("kretprobe/vfs_fsync_range")
int on_fsync_return(struct pt_regs *ctx) {
  if (!mine()) return 0;
  __u32 pid = target_tgid;
  long long ret = (long long)ctx->ax;
  bpf_map_update_elem(&returns, &pid, &ret, BPF_ANY);
  return 0;
}

SEC("ksyscall/fsync")
int on_fsync_syscall(struct pt_regs *ctx) {
  if (mine()) __sync_fetch_and_add(&syscalls, 1);
  return 0;
}

SEC("kprobe")
int on_any(struct pt_regs *ctx) {
  if (mine()) emit(ctx, bpf_get_attach_cookie(ctx));
  return 0;
}
`;

interface FsyncEvent {
  pid: number;
  datasync: number;
  start: bigint;
  end: bigint;
  comm: string;
  cookie: bigint;
}

let dir: string;
let object: string;

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-vm-object-'));
  object = compileBpf('fsyncs', SOURCE, { dir });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fsyncFile(name: string): void {
  const fd = fs.openSync(path.join(dir, name), 'w');
  fs.writeSync(fd, 'hello');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

test('kprobe, kretprobe and ksyscall programs attached by section see this process fsync', async () => {
  const obj = openObject(object, { rodata: { target_tgid: process.pid } }).load();
  try {
    const links = obj.attachAll();
    expect(links.map((l) => [l.program, l.target]).sort()).toEqual([
      ['on_fsync', 'kprobe vfs_fsync_range'],
      ['on_fsync_return', 'kretprobe vfs_fsync_range'],
      ['on_fsync_syscall', 'ksyscall fsync'],
    ]);
    const ring = obj.ringBuffer('events', 'struct fsync_event') as RingBuffer<FsyncEvent>;
    const got: FsyncEvent[] = [];
    ring.on('event', (e) => got.push(e));
    fsyncFile('a');
    expect(await until(() => (ring.flush(), got.length >= 1), 10_000)).toBe(true);
    expect(got[0]).toEqual({
      pid: process.pid, datasync: 0, start: 0n, end: 0x7fffffffffffffffn,
      comm: fs.readFileSync('/proc/self/comm', 'utf8').trim(), cookie: 0n,
    });
    expect(obj.maps.returns.get(process.pid)).toBe(0n);
    expect(obj.globals.syscalls).toBe(1n);

    const ids = obj.info().links.map((l) => l.id);
    expect(stillLoaded({ progs: [], links: ids }).links).toEqual(ids);
    obj.close();
    expect(stillLoaded({ progs: [], links: ids }).links).toEqual([]);
  } finally {
    obj.close();
  }
});

test('a kprobe program without a target in its section attaches where it is told, with a cookie', async () => {
  const obj = openObject(object, { rodata: { target_tgid: process.pid } }).load();
  try {
    expect(() => obj.attach('on_any')).toThrow(/names no target: attach it with attach\('on_any', \{ kprobe: 'vfs_read' \}\)/);
    const link = obj.attach('on_any', { kprobe: 'vfs_fsync_range', cookie: 42n });
    expect(link.target).toBe('kprobe vfs_fsync_range');
    const ring = obj.ringBuffer('events', 'struct fsync_event') as RingBuffer<FsyncEvent>;
    const got: FsyncEvent[] = [];
    ring.on('event', (e) => got.push(e));
    fsyncFile('b');
    expect(await until(() => (ring.flush(), got.length >= 1), 10_000)).toBe(true);
    expect(got.map((e) => [e.pid, e.cookie])).toEqual([[process.pid, 42n]]);
    expect(() => obj.attach('on_any', { kprobe: 'no_such_function_kn' })).toThrow(/no_such_function_kn/);
  } finally {
    obj.close();
  }
});
