/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The event of the hand-written kprobe (bench/c/handwritten.bpf.c), read by
 * bench/c/handwritten.c: the same facts a kprobe-node record of one scalar
 * argument carries (48 bytes here, 56 there: kprobe-node adds the record's
 * size and probe id).
 */
#ifndef HANDWRITTEN_H
#define HANDWRITTEN_H

struct hw_event {
	__u64 ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;  /* process id (tgid) */
	__u32 tid;
	__u32 uid;
	__u16 cpu;
	__u16 pad;
	char comm[16];
	__u64 value; /* file->f_inode->i_sb->s_magic */
};

#endif /* HANDWRITTEN_H */
