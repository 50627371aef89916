// SPDX-License-Identifier: MIT
/*
 * User side of the hand-written kprobe (handwritten.bpf.c, embedded through
 * its bpftool skeleton): attaches it to vfs_read and drains the ring the way
 * bench/c/consumer.c does (10 ms timer plus forced wake-ups, bounded batches),
 * counting records and checking the field value of the target's records.
 *
 *   handwritten [--no-path] [--ring-bytes=N] [--control] [target_pid expect [value]]
 *
 * --no-path emits the same event without reading the field (profiling);
 * --ring-bytes sizes the ring (default 8 MiB, kprobe-node's default);
 * --control loads the program without attaching it and takes commands on
 * stdin, one a line: "attach" (answers "attached"), "detach" (answers
 * "detached"); the end of stdin stops it. bench/consumer.ts --control does
 * the same, so that a benchmark can alternate tracers under one traced process.
 *
 * Prints "ready" once loaded (and attached, without --control). Exits when
 * `expect` records of `target_pid` (with `value`, hexadecimal, when given)
 * arrived, or on SIGINT/SIGTERM, printing one line (bench/consumer.ts prints
 * the same):
 *   done seen <all> target <of target_pid> lost <n> last_ns <CLOCK_MONOTONIC> matched <n> other <n>
 * where matched counts the target's records holding `value` and other the
 * rest (the loop's reads of its stdin, for example).
 */
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch_drain.h"
#include "clock.h"
#include "handwritten.h"
#include "handwritten.skel.h"

static volatile sig_atomic_t stop;
static unsigned long long seen, target_seen, expect, matched, other, want;
static unsigned int target_pid;
static int want_set;
static long long last_ns;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int on_record(void *ctx, void *data, size_t size)
{
	const struct hw_event *e = data;
	(void)ctx;
	seen++;
	if (e->pid == target_pid) {
		target_seen++;
		last_ns = now_ns();
		if (want_set && e->value == want)
			matched++;
		else
			other++;
		if (expect && (want_set ? matched : target_seen) >= expect)
			stop = 1;
	}
	return batch_take(size);
}

static void reply(const char *s)
{
	printf("%s\n", s);
	fflush(stdout);
}

/* Runs the commands in what stdin holds; returns 0 at its end. */
static int commands(struct handwritten *skel, char *buf, size_t *len, size_t cap)
{
	ssize_t n = read(0, buf + *len, cap - *len - 1);
	char *line, *nl;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	*len += (size_t)n;
	buf[*len] = 0;
	line = buf;
	while ((nl = strchr(line, '\n'))) {
		*nl = 0;
		if (strcmp(line, "attach") == 0) {
			if (!skel->links.hw_vfs_read)
				skel->links.hw_vfs_read = bpf_program__attach(skel->progs.hw_vfs_read);
			reply(skel->links.hw_vfs_read ? "attached" : "attach failed");
		} else if (strcmp(line, "detach") == 0) {
			bpf_link__destroy(skel->links.hw_vfs_read);
			skel->links.hw_vfs_read = NULL;
			reply("detached");
		} else if (*line) {
			reply("unknown command");
		}
		line = nl + 1;
	}
	*len = strlen(line);
	memmove(buf, line, *len + 1);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned int ring_bytes = 8u << 20;
	int no_path = 0, control = 0, a = 1;
	char cmd[256];
	size_t cmd_len = 0;

	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--no-path") == 0) {
			no_path = 1;
		} else if (strcmp(argv[a], "--control") == 0) {
			control = 1;
		} else if (strncmp(argv[a], "--ring-bytes=", 13) == 0) {
			ring_bytes = (unsigned int)strtoul(argv[a] + 13, NULL, 0);
		} else {
			fprintf(stderr, "unknown option %s\n", argv[a]);
			return 2;
		}
	}
	if (a + 1 < argc) {
		target_pid = (unsigned int)atoi(argv[a]);
		expect = strtoull(argv[a + 1], NULL, 10);
	}
	if (a + 2 < argc) {
		want = strtoull(argv[a + 2], NULL, 16);
		want_set = 1;
	}
	libbpf_set_print(NULL);
	struct handwritten *skel = handwritten__open();
	if (!skel) {
		fprintf(stderr, "open failed: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->wakeup_bytes = ring_bytes / 4; /* as lib/core/session.ts: ringBytes / 4 */
	skel->rodata->field_path = !no_path;
	bpf_map__set_max_entries(skel->maps.events, ring_bytes);
	if (handwritten__load(skel)) {
		fprintf(stderr, "load failed: %s\n", strerror(errno));
		return 1;
	}
	if (!control && handwritten__attach(skel)) {
		fprintf(stderr, "attach failed: %s\n", strerror(errno));
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* the ring's epoll fd is readable when the ring has data and a wake-up came */
	struct pollfd fds[2] = { { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN }, { .fd = 0, .events = POLLIN } };
	reply("ready");
	long long next = now_ns() + 10000000LL;
	while (!stop) {
		/* wake on the ring, a command or the next 10 ms tick, then drain */
		long long left = (next - now_ns()) / 1000000LL;
		int n = poll(fds, control ? 2 : 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno != EINTR)
			break;
		if (now_ns() >= next)
			next = now_ns() + 10000000LL;
		drain(rb);
		if (control && n > 0 && (fds[1].revents & (POLLIN | POLLHUP)) && !commands(skel, cmd, &cmd_len, sizeof(cmd)))
			break;
	}
	drain(rb);
	printf("done seen %llu target %llu lost %llu last_ns %lld matched %llu other %llu\n",
	       seen, target_seen, (unsigned long long)skel->bss->lost, last_ns, matched, other);
	fflush(stdout);
	ring_buffer__free(rb);
	handwritten__destroy(skel);
	return 0;
}
