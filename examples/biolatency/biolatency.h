/* The records biolatency.bpf.c shares with user space, in fixed-width types. */
#ifndef BIOLATENCY_H
#define BIOLATENCY_H

#define COMM_LEN 16
/* Latency slots: log2 of microseconds, 0 (under 2 us) to 26 (over a minute). */
#define LAT_SLOTS 27

/* A process, as the kernel saw it when it issued the request. */
struct proc {
	__u32 pid;
	char comm[COMM_LEN];
};

/* Latencies of one process's requests. */
struct hist {
	__u64 count;
	__u64 total_ns;
	__u64 slots[LAT_SLOTS];
};

/* One request slower than the threshold, as it completed. */
struct slow_io {
	struct proc proc;
	__u32 dev;
	__u64 sector;
	__u64 latency_ns;
	__s32 error;
};

#endif
