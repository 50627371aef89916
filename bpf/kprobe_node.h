/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs (bpf/), the native addon (native/)
 * and the TypeScript decoder (lib/sys/abi.ts mirrors it; test/unit/abi.test.ts checks
 * that the two agree).
 *
 * A probe is described by a struct kn_config stored in the `configs` array at
 * index probe id. The generic programs find their probe id in the BPF cookie
 * of the attachment, run the probe's fetch program and emit a struct
 * kn_record followed by one payload entry per visible argument.
 *
 * A cookie is (generation << KN_COOKIE_GEN_SHIFT) | probe id: a slot reused
 * while an earlier probe's links are still being released (which the kernel
 * may finish later) has a new generation, and those links' hits are ignored.
 */
#ifndef KPROBE_NODE_H
#define KPROBE_NODE_H

#ifndef __KN_BPF__
#include <linux/types.h>
#endif

#define KN_COOKIE_GEN_SHIFT 16 /* probe ids are below 1 << 16 */
#define KN_COMM_LEN 16
#define KN_MAX_ARGS 8
#define KN_MAX_STEPS 12
#define KN_MAX_FILTERS 8
#define KN_MAX_STR 4096     /* largest string or byte array one argument may fetch */
#define KN_DATA_SIZE 16384  /* payload bytes of arguments a record may carry (power of two); stacks follow */

/* Where an argument's value starts. */
enum kn_source {
	KN_SRC_NONE = 0,
	KN_SRC_REG = 1,   /* function argument register number `reg` (kprobe/uprobe) */
	KN_SRC_RET = 2,   /* return value register (kretprobe/uretprobe) */
	KN_SRC_CTX = 3,   /* address of the program context (tracepoint record, pt_regs) */
};

/* What is stored for an argument once its address or value is known. */
enum kn_store {
	KN_STORE_VALUE = 0,      /* the value itself: 8 bytes */
	KN_STORE_MEM = 1,        /* `size` (1, 2, 4 or 8) bytes at value + offset, kernel memory */
	KN_STORE_MEM_USER = 2,   /* same, user memory */
	KN_STORE_STR = 3,        /* NUL-terminated string at value + offset, kernel memory */
	KN_STORE_STR_USER = 4,   /* same, user memory */
	KN_STORE_BYTES = 5,      /* `size` bytes at value + offset, kernel memory */
	KN_STORE_BYTES_USER = 6, /* same, user memory */
	KN_STORE_DATA_LOC = 7,   /* tracepoint __data_loc string: u32 at value + offset */
};

/* Argument flags. */
#define KN_ARG_SIGNED 0x01 /* sign-extend a MEM/VALUE scalar of `size` bytes */
#define KN_ARG_HIDDEN 0x02 /* fetched for a filter only: the decoder skips its entry */

/* One dereference: value = *(u64 *)(value + offset). */
struct kn_step {
	__s32 offset;
	__u8 user;     /* 1: read user memory */
	__u8 pad[3];
};

/*
 * A fetch program for one argument: start from `source`, follow `nsteps`
 * dereferences, then store as `store`. Scalars are normalised in the kernel
 * (size, sign, bitfield) so that filters compare real values.
 */
struct kn_arg {
	__u8 source;
	__u8 reg;
	__u8 nsteps;
	__u8 store;
	__u16 size;      /* scalar bytes, or the maximum string/byte length */
	__u8 flags;      /* KN_ARG_* */
	__u8 bit_offset; /* bitfield: shift right by this many bits (0: not a bitfield) */
	__s32 offset;    /* final offset added before the store reads memory */
	__u8 bit_size;   /* bitfield width in bits (0: whole scalar) */
	__u8 pad[3];
	struct kn_step steps[KN_MAX_STEPS];
};

/* Value filters on fetched scalar arguments: all must hold. */
enum kn_filter_op {
	KN_OP_EQ = 0,
	KN_OP_NE = 1,
	KN_OP_LT = 2,   /* unsigned comparisons */
	KN_OP_LE = 3,
	KN_OP_GT = 4,
	KN_OP_GE = 5,
	KN_OP_SLT = 6,  /* signed comparisons */
	KN_OP_SLE = 7,
	KN_OP_SGT = 8,
	KN_OP_SGE = 9,
	KN_OP_AND = 10, /* (value & operand) != 0 */
	KN_OP_STREQ = 11, /* string argument equals `str` (first 16 bytes) */
};

struct kn_filter {
	__u8 arg;       /* index into args[] */
	__u8 op;        /* enum kn_filter_op */
	__u8 pad[6];
	__u64 operand;
	char str[KN_COMM_LEN];
};

/* Config flags. */
#define KN_CFG_PID 0x01  /* only events whose process id (tgid) is `pid` */
#define KN_CFG_TID 0x02  /* only the thread `tid` */
#define KN_CFG_UID 0x04  /* only the user `uid` */
#define KN_CFG_COMM 0x08 /* only tasks whose comm equals `comm` */
#define KN_CFG_KSTACK 0x10 /* append the kernel stack to the record */
#define KN_CFG_USTACK 0x20 /* append the user stack to the record */
#define KN_CFG_COUNT 0x100 /* count in `counts` by `count_by` instead of emitting */
#define KN_CFG_HIST 0x200  /* add the first argument's value (or the latency) to a log2 histogram in `hists`, and to its sum in `hist_sums` */
#define KN_CFG_LAT_START 0x400 /* remember the entry time of this thread under `pair`, emit nothing */
#define KN_CFG_LAT_END 0x800   /* the value is the time since this thread's entry under `pair` */
#define KN_CFG_PIDNS 0x1000    /* pids in records and filters are those of the pid namespace `pidns` */
#define KN_CFG_CGROUP 0x2000   /* only tasks in the cgroup v2 at `cgroups[probe id]`, or below it */
#define KN_CFG_KCALLER 0x10000 /* kernel stack taken at a function's first instruction: recover its caller (caller_reg) */
#define KN_CFG_UCALLER 0x20000 /* the same for the user stack */
#define KN_CFG_STACKS 0x40000  /* count hits in `stack_counts` by (probe, task, stacks) instead of emitting */
#define KN_CFG_STACKS_PID 0x80000 /* with KN_CFG_STACKS: by process id (else by comm alone) */
#define KN_CFG_NOT_SELF 0x100000 /* drop events of the process that loaded the programs (`self_tgid`) */
#define KN_CFG_ENABLED 0x80000000u /* the slot holds a live probe */

/* What KN_CFG_COUNT counts by. */
enum kn_count_by {
	KN_BY_PROBE = 0,
	KN_BY_COMM = 1,
	KN_BY_PID = 2,
	KN_BY_VALUE = 3,  /* the first argument's scalar value */
	KN_BY_STRING = 4, /* the first argument's string (first 16 bytes) */
	KN_BY_CGROUP = 5, /* the cgroup v2 id (u64) */
};

#define KN_HIST_BUCKETS 64 /* bucket 0: value 0; bucket k: [2^(k-1), 2^k) */
#define KN_MAX_BUCKET_BITS 5 /* log-linear: each power of two split into at most 2^5 buckets */
#define KN_MAX_LINEAR_BUCKETS 1024 /* linear: at most this many buckets between min and max */
#define KN_BUCKET_NEGATIVE 0xffffffffu /* a negative value of a signed log2 or log-linear histogram */

/*
 * Histograms counted in `counts`, one key per bucket (struct kn_count_key.bucket),
 * so that they can be grouped (by comm, pid) like any count: KN_CFG_COUNT with
 * buckets.mode set. The value is the first argument's, or the latency.
 */
enum kn_bucket_mode {
	KN_BUCKETS_NONE = 0,       /* a plain count: bucket 0 */
	KN_BUCKETS_LOG2 = 1,       /* 0 for 0, else 1 + floor(log2(v)) */
	KN_BUCKETS_LINEAR = 2,     /* 0 below min; 1..count: [min + (i-1)*step, min + i*step); count + 1: the rest */
	KN_BUCKETS_LOG_LINEAR = 3, /* v below 2^bits: v; above, each power of two split into 2^bits buckets */
};

struct kn_buckets {
	__s64 min;      /* linear */
	__u64 step;     /* linear */
	__u32 count;    /* linear */
	__u8 mode;      /* enum kn_bucket_mode */
	__u8 bits;      /* log-linear */
	__u8 is_signed; /* the value is signed: negative ones are below min, or KN_BUCKET_NEGATIVE */
	__u8 pad;
};
#define KN_MAX_STACK 127   /* frames per stack (the kernel's default perf_event_max_stack) */
#define KN_BUILD_ID_FRAME 32 /* sizeof(struct bpf_stack_build_id): a user frame as build id + file offset */

/* The u32 that starts a stack entry of a record: the byte count of its addresses, and flags. */
#define KN_STACK_BYTES 0xffff
#define KN_STACK_CALLER 0x10000    /* frame 1 is the caller's return address, read at the function's entry */
#define KN_STACK_BUILD_IDS 0x20000 /* the addresses are followed by one build id frame per address */

/* A key of the `counts` hash map. */
struct kn_count_key {
	__u32 probe_id;
	__u32 bucket; /* histograms counted here (kn_buckets); 0 for plain counts */
	__u8 data[16]; /* comm, pid (u32), value (u64), string or cgroup id (u64), by count_by */
};

/*
 * A key of the `stack_counts` hash map (KN_CFG_STACKS): stack ids are those of
 * the `kstacks` and `ustacks` stack maps, or a negative errno (none taken,
 * or the stack map could not keep it).
 */
struct kn_stack_key {
	__u32 probe_id;
	__u32 pid;     /* with KN_CFG_STACKS_PID, else 0 */
	__s32 kstack;
	__s32 ustack;
	__u64 kcaller; /* KN_CFG_KCALLER: the caller the kernel stack lacks (it becomes frame 1), else 0 */
	__u64 ucaller; /* KN_CFG_UCALLER: the same for the user stack */
	__u64 uentry;  /* with ucaller: frame 0's address, which places ucaller in frame 0's file */
	char comm[KN_COMM_LEN];
};

/* A value of `stack_counts`. */
struct kn_stack_count {
	__u64 count;
	__u32 pid; /* the last process counted: its perf map names JIT frames */
	__u32 pad;
};

struct kn_config {
	__u32 flags;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[KN_COMM_LEN];
	__u8 nargs;
	__u8 nfilters;
	__u8 count_by; /* enum kn_count_by */
	__u8 gen;      /* the slot's generation: attachments whose cookie names another are stale */
	__u32 pair;    /* latency: the id entry and return probes share */
	struct kn_filter filters[KN_MAX_FILTERS];
	struct kn_arg args[KN_MAX_ARGS];
	__u32 pidns;     /* KN_CFG_PIDNS: the inode number of the tracer's /proc/self/ns/pid */
	__u32 pidns_dev; /* and the device it is on (nsfs), as the kernel numbers devices */
	/* KN_CFG_KCALLER/UCALLER: where the return address is at a function's entry */
	__u16 caller_reg;  /* byte offset in struct pt_regs of the register holding it */
	__u8 caller_deref; /* 1: the register points at it (x86-64's sp); 0: holds it (arm64's x30) */
	__u8 pad2;
	struct kn_buckets buckets; /* with KN_CFG_COUNT: count the value's bucket */
};

/*
 * One event. `size` counts the header and the payload and is a multiple of 8.
 * `pid` and `tid` are as the tracer sees them: with KN_CFG_PIDNS, in its pid
 * namespace (0 for a task outside it); `host_pid`, `host_tid` in the initial one.
 * The payload holds, for each argument in order:
 *   scalar stores: 8 bytes (little-endian u64, already normalised);
 *   string/bytes stores: a u32 length (string bytes without the NUL), then the
 *   bytes, padded so that the entry is a multiple of 8 bytes long.
 * Bit i of `faults` is set when argument i could not be read (its entry is
 * still present, holding zero or an empty string).
 * With KN_CFG_KSTACK and/or KN_CFG_USTACK, the arguments are followed by the
 * kernel stack, then the user stack: each a u32 (KN_STACK_BYTES: the byte
 * count of the addresses, and KN_STACK_* flags), then u64 addresses,
 * innermost first; a user stack's addresses are followed by as many struct
 * bpf_stack_build_id (KN_STACK_BUILD_IDS), which name the file and offset of
 * each frame after the process is gone. The entry is padded to a multiple of 8.
 * A frame recovered at entry (KN_STACK_CALLER) has no build id of its own:
 * its status is BPF_STACK_BUILD_ID_IP.
 */
struct kn_record {
	__u32 size;
	__u32 probe_id;
	__u64 ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;     /* process id (tgid) */
	__u32 tid;
	__u32 uid;
	__u16 cpu;
	__u16 faults;
	char comm[KN_COMM_LEN];
	__u32 host_pid; /* pid and tid in the initial pid namespace (`pid`, `tid` are the tracer's view) */
	__u32 host_tid;
	__u64 cgroup_id; /* bpf_get_current_cgroup_id(): the cgroup v2 directory's inode number */
};

#endif /* KPROBE_NODE_H */
