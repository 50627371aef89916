// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The hand-written reference of the kprobe path benchmark: a CO-RE kprobe on
 * vfs_read that emits, for every call, who made it and
 * file->f_inode->i_sb->s_magic, as a libbpf tool would be written by hand
 * (vmlinux.h, BPF_KPROBE, BPF_CORE_READ, the usual helpers, one ring buffer
 * reserve). kprobe-node's generic program is given the same field path as
 * data (`args: ['file->f_inode->i_sb->s_magic']`).
 *
 * Wake-ups follow kprobe-node's policy so that only the program differs:
 * the reader drains on a timer, and a wake-up is forced only when the ring is
 * filling up (looked at every 64th record).
 *
 * Built by the benchmark (bench/kprobe_path.ts) against a vmlinux.h dumped
 * from the build machine's BTF; CO-RE relocates it for the kernel it runs on.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "handwritten.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile __u32 wakeup_bytes = 1 << 20; /* force a wake-up past this much unread data */
const volatile __u8 field_path = 1;          /* 0: emit the event without reading the field (profiling) */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

__u64 lost; /* failed reserves; user space reads it through the mapped .bss */
__u64 hits; /* shared by the CPUs: a lost increment only shifts when the ring is looked at */

SEC("kprobe/vfs_read")
int BPF_KPROBE(hw_vfs_read, struct file *file)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	struct hw_event *e;
	__u64 id;

	if ((hits++ & 63) == 0 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cpu = bpf_get_smp_processor_id();
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->value = field_path ? BPF_CORE_READ(file, f_inode, i_sb, s_magic) : 0;
	e->ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, flags);
	return 0;
}
