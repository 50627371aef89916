// SPDX-License-Identifier: MIT
/*
 * The traced program of the kprobe path benchmark: read(2)s one byte from a
 * file (default /dev/zero) N times, so that every call passes through
 * vfs_read once, and reports its own cost per call.
 *
 *   read_loop N [wait [FILE]]
 *
 * Without "wait" it runs once. With "wait" it prints "pid <pid>" and then runs
 * the N reads once for every line read on stdin, until end of input: a tracer
 * attached once can be measured over several runs of the same process (with
 * and without kernel.bpf_stats_enabled, for example). Each run prints:
 *   ns_per_call <f> start_ns <CLOCK_MONOTONIC> end_ns <CLOCK_MONOTONIC> calls <N> mean_ns <f>
 * ns_per_call is the median over chunks of 10k calls, which resists
 * preemption by other load.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timed_loop.h"

static int fd;

static int call(void)
{
	char byte;

	if (read(fd, &byte, 1) != 1) {
		perror("read");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int wait = argc > 2 && strcmp(argv[2], "wait") == 0;
	const char *file = argc > 3 ? argv[3] : "/dev/zero";
	char line[64];

	if (n < 1) {
		fprintf(stderr, "usage: read_loop N [wait [FILE]]\n");
		return 2;
	}
	fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	double *per = calloc((n + CHUNK - 1) / CHUNK, sizeof(double));
	if (!per)
		return 1;
	if (!wait)
		return timed_loop(n, per, call);
	printf("pid %d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (timed_loop(n, per, call))
			return 1;
	}
	return 0;
}
