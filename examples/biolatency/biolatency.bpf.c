// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Block I/O latency by process: the time from a request's issue to the
 * device (block:block_rq_issue) to its completion (block:block_rq_complete),
 * as a log2 histogram per issuing process, and each request slower than
 * `slow_ns` as a record in a ring buffer. biolatency.ts loads it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "biolatency.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The tracepoints' records, as the running kernel lays them out (CO-RE). */
struct trace_event_raw_block_rq {
	__u32 dev;
	__u64 sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_completion {
	__u32 dev;
	__u64 sector;
	int error;
} __attribute__((preserve_access_index));

/* Set before load: report requests at least this slow in `slow` (0: none). */
const volatile __u64 slow_ns = 0;

/* A request in flight, by device and sector (the padding spelt out: a hash key is compared whole). */
struct request {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct issued {
	__u64 ns;
	struct proc proc;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request);
	__type(value, struct issued);
} in_flight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct proc);
	__type(value, struct hist);
} latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} slow SEC(".maps");

/* Keeps the record type in the object's BTF, for its typings. */
struct slow_io *unused_slow_io __attribute__((unused));

__u64 dropped = 0;  /* slow records the ring buffer had no room for */
__u64 untracked = 0; /* requests not counted: in_flight or latency was full */

static __always_inline __u32 log2_us(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 slot = 0;
	for (int i = 0; i < LAT_SLOTS - 1 && us > 1; i++) {
		us >>= 1;
		slot++;
	}
	return slot;
}

SEC("tp/block/block_rq_issue")
int on_issue(struct trace_event_raw_block_rq *ctx)
{
	struct request req = { .dev = ctx->dev, .pad = 0, .sector = ctx->sector };
	struct issued at = { .ns = bpf_ktime_get_ns() };

	at.proc.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(at.proc.comm, sizeof(at.proc.comm));
	if (bpf_map_update_elem(&in_flight, &req, &at, BPF_ANY))
		__sync_fetch_and_add(&untracked, 1);
	return 0;
}

SEC("tp/block/block_rq_complete")
int on_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct request req = { .dev = ctx->dev, .pad = 0, .sector = ctx->sector };
	struct issued *at = bpf_map_lookup_elem(&in_flight, &req);
	if (!at)
		return 0; /* issued before we attached */

	__u64 delta = bpf_ktime_get_ns() - at->ns;
	struct proc proc = at->proc;
	bpf_map_delete_elem(&in_flight, &req);

	struct hist *h = bpf_map_lookup_elem(&latency, &proc);
	if (!h) {
		static const struct hist zero;
		bpf_map_update_elem(&latency, &proc, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&latency, &proc);
		if (!h) {
			__sync_fetch_and_add(&untracked, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->total_ns, delta);
	__u32 slot = log2_us(delta);
	if (slot < LAT_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);

	if (slow_ns && delta >= slow_ns) {
		struct slow_io *e = bpf_ringbuf_reserve(&slow, sizeof(*e), 0);
		if (!e) {
			__sync_fetch_and_add(&dropped, 1);
			return 0;
		}
		e->proc = proc;
		e->dev = req.dev;
		e->sector = req.sector;
		e->latency_ns = delta;
		e->error = ctx->error;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}
