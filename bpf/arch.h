/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one place the BPF programs know the CPU: where a kprobe or uprobe finds
 * the probed function's arguments, its return value, and the stack, frame and
 * instruction pointers. The names follow libbpf's bpf_tracing.h (PARM, RC, SP,
 * FP, IP); the Makefile builds one object per architecture, with
 * -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64.
 *
 * The register file is declared with just the members read and relocated by
 * CO-RE, never taken from the build machine's kernel. It is the type the
 * kernel hands these programs (bpf_user_pt_regs_t). lib/arch.ts holds the same
 * facts for TypeScript; test/unit/arch.test.ts checks both kernels' layouts.
 */
#ifndef KPROBE_NODE_ARCH_H
#define KPROBE_NODE_ARCH_H

#if defined(__TARGET_ARCH_x86)

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

/* A macro, not a typedef: CO-RE finds the kernel's type by the name it reads through. */
#define kn_pt_regs struct pt_regs

/* System V AMD64: six integer arguments in registers. X(index, member) */
#define KN_ARG_REGS(X) X(0, di) X(1, si) X(2, dx) X(3, cx) X(4, r8) X(5, r9)
#define KN_RC ax
#define KN_SP sp
#define KN_FP bp
#define KN_IP ip

#elif defined(__TARGET_ARCH_arm64)

/* arm64's struct pt_regs starts with this (in a union); programs get this part. */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));

#define kn_pt_regs struct user_pt_regs

/* AAPCS64: eight integer arguments in x0..x7; x29 is the frame pointer. */
#define KN_ARG_REGS(X) \
	X(0, regs[0]) X(1, regs[1]) X(2, regs[2]) X(3, regs[3]) \
	X(4, regs[4]) X(5, regs[5]) X(6, regs[6]) X(7, regs[7])
#define KN_RC regs[0]
#define KN_SP sp
#define KN_FP regs[29]
#define KN_IP pc

#else
#error "build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64: the probes read registers by name"
#endif

#endif /* KPROBE_NODE_ARCH_H */
