// SPDX-License-Identifier: MIT
/*
 * The delivery benchmark's "own BPF object" contender (bench/consumer.ts
 * --object): every getppid(2) as a struct in a ring buffer, read through
 * openObject().ringBuffer(). It wakes the reader as the generic program does:
 * only once the ring holds more than `wakeup_bytes`; the reader's timer
 * drains the rest.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct ppid_event {
	__u32 pid;
	__u32 tid;
	__u64 ns;
	char comm[16];
};
struct ppid_event *unused_ppid_event __attribute__((unused));

const volatile __u64 wakeup_bytes = 2 << 20;
__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct ppid_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}
