// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Generic probe programs. One loaded object serves every probe of a process:
 * each attachment carries its probe id as BPF cookie, the id selects a
 * struct kn_config, and the config's fetch programs say what to read.
 *
 * Built once with clang -target bpf; it declares the few kernel types it uses
 * itself (CO-RE), so it does not depend on the build machine's kernel.
 */
#define __KN_BPF__
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kprobe_node.h"
#include "arch.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The task fields a record carries, read directly (CO-RE) instead of through three helpers. */
struct kuid_t_ {
	unsigned int val;
};

struct cred {
	struct kuid_t_ uid;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	const struct cred *cred;
	char comm[16];
	struct pid *thread_pid;
	struct task_struct *group_leader;
} __attribute__((preserve_access_index));

/* A task's pid in each pid namespace it is visible in, from the initial one (level 0) down. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

#define KN_MAX_PIDNS_LEVEL 32 /* the kernel's MAX_PID_NS_LEVEL */

/* Set by the loader before load. */
const volatile __u32 wakeup_bytes = 1 << 20; /* force a wake-up past this much unread data */
const volatile __u32 self_tgid = 0;          /* the loading process, which KN_CFG_NOT_SELF drops */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct kn_config);
} configs SEC(".maps");

/* Reserve failures per probe id; user space maps this array to read it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/*
 * The reader's wake-up flag, shared with user space (mmap): 1 while it sleeps,
 * so that the next record wakes it; records are written without waking it
 * while it drains on a timer (native/ring.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} reader SEC(".maps");

/* Counts of KN_CFG_COUNT probes; a full map is counted in `lost`. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct kn_count_key);
	__type(value, __u64);
} counts SEC(".maps");

/* Log2 histograms, KN_HIST_BUCKETS per probe id; user space maps this array. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256 * KN_HIST_BUCKETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} hists SEC(".maps");

/* The cgroup of each KN_CFG_CGROUP probe, by probe id (user space stores a cgroup directory's fd). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

/* The sum of the values added to each probe's histogram (for an exact mean or
 * Prometheus _sum), by probe id; user space maps this array. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} hist_sums SEC(".maps");

/* Entry times of latency probes, by (pair << 32 | host thread id). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} starts SEC(".maps");

/*
 * Stack maps of in-kernel stack counting (KN_CFG_STACKS). User space creates
 * them with the first probe that counts stacks, sized then, and puts them in
 * these one-slot outer maps: a session that counts no stacks pays nothing
 * for them (a stack map allocates all its entries when created). User stacks
 * are kept as build id + file offset per frame, which name the frame after
 * the process is gone and are the same in every process of one binary.
 */
struct kn_kstack_map {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KN_MAX_STACK * sizeof(__u64));
};

struct kn_ustack_map {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KN_MAX_STACK * KN_BUILD_ID_FRAME);
	__uint(map_flags, BPF_F_STACK_BUILD_ID);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct kn_kstack_map);
} kstacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct kn_ustack_map);
} ustacks SEC(".maps");

/* Hits of KN_CFG_STACKS probes by stack; entries are allocated as they come. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kn_stack_key);
	__type(value, struct kn_stack_count);
} stack_counts SEC(".maps");

/* A record is assembled here, then copied into the ring in one piece. */
struct scratch {
	__u64 hits; /* on this CPU, to query the ring's fill level only now and then */
	struct kn_record rec;
	/* arguments (KN_DATA_SIZE at most, a string may run past it), then the stacks */
	__u8 data[KN_DATA_SIZE + KN_MAX_STR + KN_MAX_STACK * (8 + KN_BUILD_ID_FRAME) + 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratches SEC(".maps");

/* Argument and return registers, read once per hit (as arch.h says where),
 * and what fetch_arg() needs besides. */
struct regs {
	__u64 arg[8];
	__u64 ret;
	__u64 ctx; /* the context's address as a plain number */
	/* fetch_arg's other inputs and output (BPF functions take at most 5 arguments) */
	__u32 index;
	__u32 off;
	__u64 value;
};

static __always_inline void read_regs(const kn_pt_regs *ctx, struct regs *r)
{
#define KN_READ_ARG(i, reg) r->arg[i] = ctx->reg;
	KN_ARG_REGS(KN_READ_ARG)
#undef KN_READ_ARG
	r->ret = ctx->KN_RC;
}

static __always_inline int read_mem(void *dst, __u32 size, __u64 addr, int user)
{
	if (user)
		return bpf_probe_read_user(dst, size, (void *)addr);
	return bpf_probe_read_kernel(dst, size, (void *)addr);
}

/* Truncate, sign-extend and extract bitfields so that filters see real values. */
static __always_inline __u64 normalise(const struct kn_arg *a, __u64 v)
{
	__u32 bits = a->size >= 8 ? 64 : a->size * 8;

	if (a->bit_size) {
		v >>= a->bit_offset & 63;
		bits = a->bit_size & 63;
	}
	if (bits >= 64 || bits == 0)
		return v;
	if ((a->flags & KN_ARG_SIGNED) && (v >> (bits - 1)) & 1)
		return v | ~((1ULL << bits) - 1);
	return v & ((1ULL << bits) - 1);
}

static __always_inline int compare(const struct kn_filter *f, __u64 v)
{
	__u64 k = f->operand;

	switch (f->op) {
	case KN_OP_EQ: return v == k;
	case KN_OP_NE: return v != k;
	case KN_OP_LT: return v < k;
	case KN_OP_LE: return v <= k;
	case KN_OP_GT: return v > k;
	case KN_OP_GE: return v >= k;
	case KN_OP_SLT: return (__s64)v < (__s64)k;
	case KN_OP_SLE: return (__s64)v <= (__s64)k;
	case KN_OP_SGT: return (__s64)v > (__s64)k;
	case KN_OP_SGE: return (__s64)v >= (__s64)k;
	case KN_OP_AND: return (v & k) != 0;
	default: return 0;
	}
}

static __always_inline int str_equal(const __u8 *s, const char *want)
{
	for (int i = 0; i < KN_COMM_LEN; i++) {
		if (s[i] != (__u8)want[i])
			return 0;
		if (!want[i])
			return 1;
	}
	return 1;
}

/*
 * The number the struct pid at `pid` has in the pid namespace whose inode is
 * `ns`; 0 when it has none there (the task is outside that namespace), as
 * the kernel reports such tasks. Its numbers go from the initial namespace
 * (level 0) down to its own: looked at from its own up, the tracer's comes
 * early for a task in a namespace nested in the tracer's.
 */
__noinline __u32 ns_pid(__u64 pid, __u32 ns)
{
	unsigned int level = 0, inum;
	struct upid up;

	if (!pid || bpf_core_read(&level, sizeof(level), &((struct pid *)pid)->level))
		return 0;
	for (int i = 0; i <= KN_MAX_PIDNS_LEVEL; i++) {
		__u64 at = pid + bpf_core_field_offset(struct pid, numbers) +
			   (__u64)(level - i) * bpf_core_type_size(struct upid);

		if (i > level)
			break;
		inum = 0;
		if (bpf_probe_read_kernel(&up, sizeof(up), (void *)at) ||
		    bpf_core_read(&inum, sizeof(inum), &up.ns->ns.inum))
			return 0;
		if (inum == ns)
			return up.nr;
	}
	return 0;
}

/* Who the current task is: its pids as the tracer sees them and in the initial namespace, its cgroup. */
static __always_inline void read_task(const struct kn_config *cfg, struct kn_record *rec)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct bpf_pidns_info own;

	rec->host_pid = task->tgid;
	rec->host_tid = task->pid;
	if (!(cfg->flags & KN_CFG_PIDNS)) {
		rec->pid = rec->host_pid;
		rec->tid = rec->host_tid;
	} else if (!bpf_get_ns_current_pid_tgid(cfg->pidns_dev, cfg->pidns, &own, sizeof(own))) {
		/* A task of the tracer's own namespace, the common case: one helper call. */
		rec->pid = own.tgid;
		rec->tid = own.pid;
	} else {
		/* Any other: its struct pid, read as a number (ns_pid adds a variable offset to it). */
		__u64 pid = 0, leader = 0;

		bpf_core_read(&pid, sizeof(pid), &task->thread_pid);
		rec->tid = ns_pid(pid, cfg->pidns);
		if (rec->host_tid == rec->host_pid) {
			rec->pid = rec->tid;
		} else {
			bpf_core_read(&leader, sizeof(leader), &task->group_leader->thread_pid);
			rec->pid = ns_pid(leader, cfg->pidns);
		}
	}
	rec->uid = task->cred->uid.val;
	__builtin_memcpy(rec->comm, task->comm, sizeof(rec->comm));
	rec->cgroup_id = bpf_get_current_cgroup_id();
}

/* Cheap task filters, checked before anything is fetched. */
static __always_inline int task_wanted(const struct kn_config *cfg, struct kn_record *rec, __u32 id)
{
	/* The helper walks the task's cgroup up to the probe's: 1 when it is there or below. */
	if ((cfg->flags & KN_CFG_CGROUP) && bpf_current_task_under_cgroup(&cgroups, id) != 1)
		return 0;
	if ((cfg->flags & KN_CFG_PID) && rec->pid != cfg->pid)
		return 0;
	if ((cfg->flags & KN_CFG_NOT_SELF) && rec->pid == self_tgid)
		return 0;
	if ((cfg->flags & KN_CFG_TID) && rec->tid != cfg->tid)
		return 0;
	if ((cfg->flags & KN_CFG_UID) && rec->uid != cfg->uid)
		return 0;
	if ((cfg->flags & KN_CFG_COMM) && !str_equal((const __u8 *)rec->comm, cfg->comm))
		return 0;
	return 1;
}

/*
 * Runs argument `i`'s fetch program and appends its payload entry at *off.
 * Returns the scalar value (for filters); sets the fault bit on failure.
 */
__noinline int fetch_arg(struct scratch *s, const struct kn_arg *a, struct regs *r)
{
	__u64 v = 0, addr;
	__u32 o, off, i;
	int err = 0;

	/* A global function is verified once, not once per call; to it, pointers may be NULL. */
	if (!s || !a || !r)
		return 0;
	o = off = r->off;
	i = r->index & (KN_MAX_ARGS - 1);
	r->value = 0;

	switch (a->source) {
	case KN_SRC_REG: v = r->arg[a->reg & 7]; break;
	case KN_SRC_RET: v = r->ret; break;
	case KN_SRC_CTX: v = r->ctx; break;
	default: break;
	}

	for (__u32 j = 0; j < KN_MAX_STEPS; j++) {
		if (j >= a->nsteps)
			break;
		addr = v + a->steps[j].offset;
		v = 0;
		if (read_mem(&v, sizeof(v), addr, a->steps[j].user)) {
			err = 1;
			break;
		}
	}

	addr = v + a->offset;
	if (o > KN_DATA_SIZE - 8) {
		/* payload full: the argument is reported as a fault */
		s->rec.faults |= 1 << i;
		return off;
	}
	/* A mask the compiler cannot drop, so that the verifier sees the bound. */
	asm volatile("%0 &= %1" : "+r"(o) : "i"(KN_DATA_SIZE - 1));

	switch (a->store) {
	case KN_STORE_VALUE:
		break;
	case KN_STORE_MEM:
	case KN_STORE_MEM_USER: {
		__u32 size = a->size;
		v = 0;
		if (!err && (size == 1 || size == 2 || size == 4 || size == 8))
			err = read_mem(&v, size, addr, a->store == KN_STORE_MEM_USER) ? 1 : 0;
		else if (!err)
			err = 1;
		break;
	}
	case KN_STORE_DATA_LOC: {
		__u32 loc = 0;
		if (!err)
			err = bpf_probe_read_kernel(&loc, sizeof(loc), (void *)addr) ? 1 : 0;
		addr = r->ctx + (loc & 0xffff);
		/* fall through to the string store below */
	}
	/* fallthrough */
	case KN_STORE_STR:
	case KN_STORE_STR_USER:
	case KN_STORE_BYTES:
	case KN_STORE_BYTES_USER: {
		__u32 max = a->size & (KN_MAX_STR - 1);
		long n = 0;

		if (a->size >= KN_MAX_STR)
			max = KN_MAX_STR;
		if (!err && max) {
			void *dst = &s->data[o + 4];
			switch (a->store) {
			case KN_STORE_STR:
			case KN_STORE_DATA_LOC:
				n = bpf_probe_read_kernel_str(dst, max, (void *)addr);
				n = n > 0 ? n - 1 : n; /* drop the NUL */
				break;
			case KN_STORE_STR_USER:
				n = bpf_probe_read_user_str(dst, max, (void *)addr);
				n = n > 0 ? n - 1 : n;
				break;
			case KN_STORE_BYTES:
				n = bpf_probe_read_kernel(dst, max, (void *)addr) ? -1 : max;
				break;
			default:
				n = bpf_probe_read_user(dst, max, (void *)addr) ? -1 : max;
				break;
			}
		}
		if (err || n < 0) {
			err = 1;
			n = 0;
		}
		*(__u32 *)&s->data[o] = (__u32)n;
		if (err)
			s->rec.faults |= 1 << i;
		r->value = o; /* string filters find the entry by its offset */
		return o + ((4 + (__u32)n + 7) & ~7u);
	}
	default:
		err = 1;
		break;
	}

	if (err) {
		v = 0;
		s->rec.faults |= 1 << i;
	}
	v = normalise(a, v);
	*(__u64 *)&s->data[o] = v;
	r->value = v;
	return o + 8;
}

/*
 * After a record is committed: a reader that went to sleep (it raises the
 * flag, then looks at the ring once more) is woken. Committing a record is a
 * full barrier, so either the reader's last look saw this record or this
 * sees its flag. The wake-up rides on an empty record that is discarded.
 */
static __always_inline void wake_if_asleep(void)
{
	__u32 zero = 0;
	__u64 *asleep = bpf_map_lookup_elem(&reader, &zero);
	void *wake;

	if (!asleep || !*asleep)
		return;
	*asleep = 0;
	wake = bpf_ringbuf_reserve(&events, 8, 0);
	if (wake)
		bpf_ringbuf_discard(wake, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void count_lost(__u32 id)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &id);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* floor(log2(v)) for v > 0. */
static __always_inline __u32 ilog2(__u64 v)
{
	__u32 b = 0;

	if (v >> 32) { v >>= 32; b += 32; }
	if (v >> 16) { v >>= 16; b += 16; }
	if (v >> 8) { v >>= 8; b += 8; }
	if (v >> 4) { v >>= 4; b += 4; }
	if (v >> 2) { v >>= 2; b += 2; }
	if (v >> 1) b += 1;
	return b;
}

/* 0 for 0, else 1 + floor(log2(v)), at most KN_HIST_BUCKETS - 1. */
static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b;

	if (!v)
		return 0;
	b = ilog2(v) + 1;
	return b < KN_HIST_BUCKETS ? b : KN_HIST_BUCKETS - 1;
}

/* A histogram counted in `counts` keeps its sum where a log2 one does. */
static __always_inline void add_sum(const struct kn_config *cfg, __u32 id, __u64 value)
{
	__u64 *sum;

	if (!cfg->buckets.mode)
		return;
	sum = bpf_map_lookup_elem(&hist_sums, &id);
	if (sum)
		__sync_fetch_and_add(sum, value);
}

/* The bucket of `v` in a histogram counted in `counts` (enum kn_bucket_mode). */
static __always_inline __u32 bucket_of(const struct kn_buckets *h, __u64 v)
{
	__u32 bits = h->bits & 7, e;

	if (h->mode == KN_BUCKETS_LINEAR) {
		__u64 i;

		if (h->is_signed ? (__s64)v < h->min : v < (__u64)h->min)
			return 0;
		i = (v - (__u64)h->min) / (h->step ? h->step : 1);
		return i < h->count ? (__u32)i + 1 : h->count + 1;
	}
	if (h->is_signed && (__s64)v < 0)
		return KN_BUCKET_NEGATIVE;
	if (h->mode == KN_BUCKETS_LOG2)
		return log2_bucket(v);
	if (h->mode != KN_BUCKETS_LOG_LINEAR)
		return 0;
	/* Below 2^bits every value is its own bucket; above, 2^bits per power of two. */
	if (v < (1ULL << bits))
		return (__u32)v;
	e = ilog2(v);
	return ((e - bits + 1) << bits) + (__u32)((v >> (e - bits)) - (1ULL << bits));
}

/* Summaries computed in the kernel: nothing reaches the ring buffer. */
static __always_inline void aggregate(const struct kn_config *cfg, struct scratch *s, __u32 id,
				      __u64 value, __u64 first_arg_at)
{
	if (cfg->flags & KN_CFG_HIST) {
		__u32 idx = id * KN_HIST_BUCKETS + log2_bucket(value);
		__u64 *n = bpf_map_lookup_elem(&hists, &idx);
		__u64 *sum = bpf_map_lookup_elem(&hist_sums, &id);

		if (n && sum) {
			__sync_fetch_and_add(n, 1);
			__sync_fetch_and_add(sum, value);
		} else {
			count_lost(id);
		}
		return;
	}
	if (cfg->flags & KN_CFG_COUNT) {
		struct kn_count_key key = { .probe_id = id };
		__u64 one = 1, *n;

		if (cfg->buckets.mode)
			key.bucket = bucket_of(&cfg->buckets, value);

		switch (cfg->count_by) {
		case KN_BY_COMM:
			__builtin_memcpy(key.data, s->rec.comm, sizeof(key.data));
			break;
		case KN_BY_PID:
			*(__u32 *)key.data = s->rec.pid;
			break;
		case KN_BY_VALUE:
			*(__u64 *)key.data = value;
			break;
		case KN_BY_CGROUP:
			*(__u64 *)key.data = s->rec.cgroup_id;
			break;
		case KN_BY_STRING: {
			/*
			 * The entry's first 16 bytes, and zeros past its length: the
			 * scratch bytes after it are left from earlier records.
			 */
			__u32 len = *(__u32 *)&s->data[first_arg_at & (KN_DATA_SIZE - 1)];

			bpf_probe_read_kernel(key.data, sizeof(key.data), &s->data[(first_arg_at + 4) & (KN_DATA_SIZE - 1)]);
			for (__u32 i = 0; i < sizeof(key.data); i++) {
				if (i >= len)
					key.data[i] = 0;
			}
			break;
		}
		default:
			break;
		}
		n = bpf_map_lookup_elem(&counts, &key);
		if (!n) {
			if (!bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST)) {
				add_sum(cfg, id, value);
				return;
			}
			/* Another CPU inserted the key meanwhile, or the map is full. */
			n = bpf_map_lookup_elem(&counts, &key);
		}
		if (n) {
			__sync_fetch_and_add(n, 1);
			add_sum(cfg, id, value);
		} else {
			count_lost(id);
		}
	}
}

/*
 * The return address at a function's first instruction (KN_CFG_KCALLER,
 * KN_CFG_UCALLER): in a register, or where a register points, as the config
 * says (the facts per architecture are in lib/sys/arch.ts). 0 if unreadable.
 */
static __always_inline __u64 entry_caller(void *ctx, const struct kn_config *cfg, int user)
{
	__u64 regs = 0, v = 0;

	/* The context's address as a number, to add a variable offset to (see run_probe). */
	bpf_probe_read_kernel(&regs, sizeof(regs), &ctx);
	if (bpf_probe_read_kernel(&v, sizeof(v), (void *)(regs + (cfg->caller_reg & 0x3ff))))
		return 0;
	if (cfg->caller_deref) {
		__u64 at = v;

		v = 0;
		if (read_mem(&v, sizeof(v), at, user))
			return 0;
	}
	return v;
}

/*
 * The caller to insert as frame 1 of a stack taken at a function's entry, or
 * 0. At the first instruction the function has not saved the frame pointer
 * yet, so a frame-pointer walk goes from frame 0 straight to the caller's
 * caller; the caller's return address is where the call left it. Some
 * unwinders already give it (the kernel's ORC; since 6.11 the user walk at a
 * uprobe on `push %rbp`): then frame 1 is that address and nothing is added.
 * `two` holds the stack's first two frames (`n` of them).
 */
static __always_inline __u64 missing_caller(void *ctx, const struct kn_config *cfg, int user, const __u64 *two, long n)
{
	__u64 caller;

	if (n < 1 || !(cfg->flags & (user ? KN_CFG_UCALLER : KN_CFG_KCALLER)))
		return 0;
	caller = entry_caller(ctx, cfg, user);
	if (!caller || (n >= 2 && two[1] == caller))
		return 0;
	return caller;
}

/*
 * Appends a stack entry at *off (layout in kprobe_node.h): the addresses,
 * with the caller inserted as frame 1 at a function's entry, and for a user
 * stack one build id frame per address.
 */
static __always_inline void append_stack(void *ctx, const struct kn_config *cfg, struct scratch *s, __u32 *off, int user)
{
	__u64 flags = user ? BPF_F_USER_STACK : 0, caller;
	__u32 o = *off, n, word, size;
	__u8 *at, *ids;
	long got;

	if (o > KN_DATA_SIZE - 8)
		return;
	asm volatile("%0 &= %1" : "+r"(o) : "i"(KN_DATA_SIZE - 1));
	at = &s->data[o + 4];
	got = bpf_get_stack(ctx, at, KN_MAX_STACK * 8, flags);
	n = got > 0 ? (__u32)got / 8 : 0;
	caller = missing_caller(ctx, cfg, user, (const __u64 *)at, n);
	if (caller) {
		/* Frame 0 stays; the walk again from its frame 1 on, two slots further. */
		got = bpf_get_stack(ctx, at + 16, (KN_MAX_STACK - 2) * 8, flags | 1);
		*(__u64 *)(at + 8) = caller;
		n = 2 + (got > 0 ? (__u32)got / 8 : 0);
	}
	if (n > KN_MAX_STACK)
		n = KN_MAX_STACK;
	word = n * 8 | (caller ? KN_STACK_CALLER : 0);
	size = n * 8;
	if (user && n) {
		/* The kernel zeroes what it does not fill: a frame it could not name is status 0 or IP. */
		ids = at + (size & 0x3ff);
		if (caller) {
			struct bpf_stack_build_id *c = (struct bpf_stack_build_id *)(ids + KN_BUILD_ID_FRAME);

			bpf_get_stack(ctx, ids, KN_BUILD_ID_FRAME, flags | BPF_F_USER_BUILD_ID);
			__builtin_memset(c, 0, sizeof(*c));
			c->status = BPF_STACK_BUILD_ID_IP;
			c->ip = caller;
			got = bpf_get_stack(ctx, ids + 2 * KN_BUILD_ID_FRAME, (KN_MAX_STACK - 2) * KN_BUILD_ID_FRAME,
					    flags | BPF_F_USER_BUILD_ID | 1);
		} else {
			got = bpf_get_stack(ctx, ids, KN_MAX_STACK * KN_BUILD_ID_FRAME, flags | BPF_F_USER_BUILD_ID);
		}
		if (got >= 0) {
			word |= KN_STACK_BUILD_IDS;
			size += n * KN_BUILD_ID_FRAME;
		}
	}
	*(__u32 *)&s->data[o] = word;
	*off = o + ((4 + size + 7) & ~7u);
}

/*
 * KN_CFG_STACKS: counts the hit under its stacks' ids in the stack maps, as
 * BCC's stackcount does; nothing reaches the ring buffer.
 */
static __always_inline void count_stack(void *ctx, const struct kn_config *cfg, struct scratch *s, __u32 id)
{
	struct kn_stack_key key = {};
	struct kn_stack_count one = { .count = 1 }, *n;
	__u64 two[2];
	__u32 zero = 0;
	void *map;
	long got;

	key.probe_id = id;
	key.pid = (cfg->flags & KN_CFG_STACKS_PID) ? s->rec.pid : 0;
	key.kstack = key.ustack = -1; /* -EPERM: not asked for */
	__builtin_memcpy(key.comm, s->rec.comm, sizeof(key.comm));
	if (cfg->flags & KN_CFG_KSTACK) {
		map = bpf_map_lookup_elem(&kstacks, &zero);
		key.kstack = map ? bpf_get_stackid(ctx, map, 0) : -2;
		if (cfg->flags & KN_CFG_KCALLER) {
			got = bpf_get_stack(ctx, two, sizeof(two), 0);
			key.kcaller = missing_caller(ctx, cfg, 0, two, got > 0 ? (__u64)got / 8 : 0);
		}
	}
	if (cfg->flags & KN_CFG_USTACK) {
		map = bpf_map_lookup_elem(&ustacks, &zero);
		key.ustack = map ? bpf_get_stackid(ctx, map, BPF_F_USER_STACK) : -2;
		if (cfg->flags & KN_CFG_UCALLER) {
			got = bpf_get_stack(ctx, two, sizeof(two), BPF_F_USER_STACK);
			key.ucaller = missing_caller(ctx, cfg, 1, two, got > 0 ? (__u64)got / 8 : 0);
			if (key.ucaller)
				key.uentry = two[0];
		}
	}
	one.pid = s->rec.pid;
	n = bpf_map_lookup_elem(&stack_counts, &key);
	if (!n) {
		if (!bpf_map_update_elem(&stack_counts, &key, &one, BPF_NOEXIST))
			return;
		/* Another CPU inserted the key meanwhile, or the map is full. */
		n = bpf_map_lookup_elem(&stack_counts, &key);
	}
	if (n) {
		__sync_fetch_and_add(&n->count, 1);
		n->pid = s->rec.pid;
	} else {
		count_lost(id);
	}
}

static __always_inline int run_probe(void *ctx, int has_regs)
{
	struct regs r = {};
	__u32 cookie = (__u32)bpf_get_attach_cookie(ctx);
	__u32 id = cookie & ((1u << KN_COOKIE_GEN_SHIFT) - 1);
	struct kn_config *cfg = bpf_map_lookup_elem(&configs, &id);
	__u32 zero = 0, off = 0;
	__u64 values[KN_MAX_ARGS] = {};
	struct scratch *s;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 size;

	if (!cfg || !(cfg->flags & KN_CFG_ENABLED) || cfg->gen != (__u8)(cookie >> KN_COOKIE_GEN_SHIFT))
		return 0;
	s = bpf_map_lookup_elem(&scratches, &zero);
	if (!s)
		return 0;

	read_task(cfg, &s->rec);
	if (!task_wanted(cfg, &s->rec, id))
		return 0;

	s->rec.faults = 0;
	if (cfg->nargs) {
		if (has_regs)
			read_regs(ctx, &r);
		/*
		 * The verifier forbids arithmetic on a context pointer with a variable
		 * offset; copying the pointer through a helper turns it into a number
		 * that fetch programs may add offsets to and read with probe_read.
		 */
		bpf_probe_read_kernel(&r.ctx, sizeof(r.ctx), &ctx);
	}
	for (__u32 i = 0; i < KN_MAX_ARGS; i++) {
		if (i >= cfg->nargs)
			break;
		r.index = i;
		r.off = off;
		off = fetch_arg(s, &cfg->args[i], &r);
		values[i] = r.value;
	}

	for (__u32 i = 0; i < KN_MAX_FILTERS; i++) {
		const struct kn_filter *f;

		if (i >= cfg->nfilters)
			break;
		f = &cfg->filters[i];
		if (f->arg >= KN_MAX_ARGS)
			return 0;
		if (f->op == KN_OP_STREQ) {
			__u8 buf[KN_COMM_LEN] = {};
			__u32 at = values[f->arg & (KN_MAX_ARGS - 1)] + 4;

			bpf_probe_read_kernel(buf, sizeof(buf), &s->data[at & (KN_DATA_SIZE - 1)]);
			if (!str_equal(buf, f->str))
				return 0;
		} else if (!compare(f, values[f->arg & (KN_MAX_ARGS - 1)])) {
			return 0;
		}
	}

	if (cfg->flags & KN_CFG_STACKS) {
		count_stack(ctx, cfg, s, id);
		return 0;
	}
	if (cfg->flags & (KN_CFG_LAT_START | KN_CFG_LAT_END | KN_CFG_HIST | KN_CFG_COUNT)) {
		/* The host tid: unique, where tasks outside the tracer's namespace all have tid 0. */
		__u64 key = ((__u64)cfg->pair << 32) | s->rec.host_tid;
		__u64 now = bpf_ktime_get_ns(), *start;
		__u64 value = cfg->nargs ? values[0] : 0;

		if (cfg->flags & KN_CFG_LAT_START) {
			bpf_map_update_elem(&starts, &key, &now, BPF_ANY);
			return 0;
		}
		if (cfg->flags & KN_CFG_LAT_END) {
			start = bpf_map_lookup_elem(&starts, &key);
			if (!start)
				return 0; /* the entry was before the probe was attached */
			value = now - *start;
			bpf_map_delete_elem(&starts, &key);
		}
		aggregate(cfg, s, id, value, cfg->nargs ? values[0] : 0);
		return 0;
	}

	if (cfg->flags & KN_CFG_KSTACK)
		append_stack(ctx, cfg, s, &off, 0);
	if (cfg->flags & KN_CFG_USTACK)
		append_stack(ctx, cfg, s, &off, 1);

	s->rec.size = sizeof(s->rec) + off;
	s->rec.probe_id = id;
	s->rec.ns = bpf_ktime_get_ns();
	s->rec.cpu = bpf_get_smp_processor_id();

	/*
	 * Wake the reader when the ring is filling up; otherwise it drains on a
	 * timer (and wake_if_asleep() below covers a reader that sleeps). The
	 * fill level is looked at every 64th record of a CPU, which is often
	 * enough at any rate that could fill the ring between two drains.
	 */
	if ((s->hits++ & 63) == 0 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;

	if (!off) {
		/* A header-only record is written in place: no copy from the scratch. */
		struct kn_record *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

		if (!rec) {
			count_lost(id);
			return 0;
		}
		__builtin_memcpy(rec, &s->rec, sizeof(*rec));
		bpf_ringbuf_submit(rec, flags);
		wake_if_asleep();
		return 0;
	}
	size = s->rec.size;
	if (size > sizeof(*s) - sizeof(s->hits))
		size = sizeof(*s) - sizeof(s->hits);
	if (bpf_ringbuf_output(&events, &s->rec, size, flags))
		count_lost(id);
	else
		wake_if_asleep();
	return 0;
}

SEC("kprobe")
int kn_kprobe(kn_pt_regs *ctx)
{
	return run_probe(ctx, 1);
}

/*
 * The same, for one kprobe_multi link over many functions (wildcards), each
 * with its own cookie. Loaded on first use only (native/tracer.cc).
 */
SEC("kprobe.multi")
int kn_kprobe_multi(kn_pt_regs *ctx)
{
	return run_probe(ctx, 1);
}

/*
 * The kernel attaches a program to a tracepoint at most once; a second probe
 * on the same tracepoint gets a copy of this program (native/tracer.cc).
 */
SEC("tracepoint")
int kn_tracepoint(void *ctx)
{
	return run_probe(ctx, 0);
}

/*
 * CPU sampling: a perf event per CPU (the CPU clock at a frequency) runs this
 * at every sample, in the context of whatever task the CPU is running.
 * Loaded on first use only (native/tracer.cc).
 */
SEC("perf_event")
int kn_perf_event(void *ctx)
{
	return run_probe(ctx, 0);
}
