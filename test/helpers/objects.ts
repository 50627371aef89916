/**
 * The BPF programs the object tests compile (test/helpers/clang.ts), and a
 * workload whose comm is unique to the test, so that only its events pass
 * the programs' `const volatile` comm filter.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Child } from './proc';
import { workloadPath } from './workload';

/**
 * A tracepoint program on sys_enter_getppid: for tasks whose comm is
 * `target_comm` (and, when set, whose tgid is `target_tgid`) it writes a
 * struct event to a ring buffer (counting failed reserves in `dropped`) and to
 * a perf event array, counts by (comm, pid) in a hash map, adds `step` to a
 * per-CPU counter, and keeps each process's last event in an LRU hash.
 * `tagged` is the same without a section target, to attach explicitly; it
 * records its BPF cookie.
 */
export const COUNTER_SOURCE = String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum kind { KIND_GETPPID = 7, KIND_TAGGED = 9 };

struct key {
  char comm[16];
  __u32 pid;
};

struct event {
  __u32 pid;
  __u32 tid;
  char comm[16];
  __u64 ns;
  enum kind kind;
  __u16 seq[3];
  struct {
    __u8 small;
    __s8 negative;
  } inner;
  __u64 cookie;
  unsigned int flag : 1;
  unsigned int level : 3;
};

const volatile char target_comm[16] = "";
const volatile __u32 target_tgid = 0;

__u64 dropped = 0;   /* .bss: ring buffer reserves that failed */
__u32 step = 1;      /* .data: what each hit adds to the per-CPU counter */
__u32 seq_no = 0;

/* Keeps struct event in the BTF even if no global used it. */
struct event *unused_event __attribute__((unused));

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct key);
  __type(value, __u64);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} per_cpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct event);
} last SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, struct key);
} slots SEC(".maps");

static __always_inline int wanted(const char *comm, __u32 tgid) {
  if (target_tgid && tgid != target_tgid) return 0;
  for (int i = 0; i < 16; i++) {
    if (comm[i] != target_comm[i]) return 0;
    if (comm[i] == 0) break;
  }
  return 1;
}

static __always_inline int record(void *ctx, enum kind kind, __u64 cookie) {
  struct key key = {};
  __u64 id = bpf_get_current_pid_tgid();
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  if (!wanted(key.comm, id >> 32)) return 0;
  key.pid = id >> 32;

  struct event ev = {};
  ev.pid = id >> 32;
  ev.tid = (__u32)id;
  __builtin_memcpy(ev.comm, key.comm, sizeof(ev.comm));
  ev.ns = bpf_ktime_get_ns();
  ev.kind = kind;
  ev.seq[0] = seq_no++; /* one thread calls: no race */
  ev.seq[2] = 0xffff;
  ev.inner.small = 200;
  ev.inner.negative = -5;
  ev.cookie = cookie;
  ev.flag = 1;
  ev.level = 5;

  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (e) {
    __builtin_memcpy(e, &ev, sizeof(ev));
    bpf_ringbuf_submit(e, 0);
  } else {
    __sync_fetch_and_add(&dropped, 1);
  }
  bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));

  __u64 one = 1, *n = bpf_map_lookup_elem(&counts, &key);
  if (n) __sync_fetch_and_add(n, 1);
  else bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);

  __u32 zero = 0;
  __u64 *c = bpf_map_lookup_elem(&per_cpu, &zero);
  if (c) *c += step;
  bpf_map_update_elem(&last, &key.pid, &ev, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx) {
  return record(ctx, KIND_GETPPID, 0);
}

SEC("tracepoint")
int tagged(void *ctx) {
  return record(ctx, KIND_TAGGED, bpf_get_attach_cookie(ctx));
}
`;

/** A copy of kn_workload under a name of its own: its comm is that name. */
export function uniqueWorkload(dir: string, tag: string): { exe: string; comm: string } {
  const comm = `kn${tag}${process.pid % 100000}`.slice(0, 15);
  const exe = path.join(dir, comm);
  fs.copyFileSync(workloadPath(), exe);
  fs.chmodSync(exe, 0o755);
  return { exe, comm };
}

/** Runs the copy: `getppid N`, after the caller attached (it waits for a byte on stdin first). */
export async function runGetppid(exe: string, n: number): Promise<number> {
  const child = new Child(exe, ['getppid', String(n)]);
  const pid = Number((await child.waitFor(/^pid (\d+)$/m))[1]);
  child.proc.stdin!.end('x');
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`${exe} exited ${code}: ${child.stderr}`);
  return pid;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kn-objects-'));
}
