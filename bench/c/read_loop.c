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

#define CHUNK 10000

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int run(int fd, long n, double *per)
{
	long nchunks = (n + CHUNK - 1) / CHUNK;
	char byte;
	long long start = now_ns(), t = start;

	for (long c = 0; c < nchunks; c++) {
		long m = c == nchunks - 1 ? n - c * CHUNK : CHUNK;
		for (long i = 0; i < m; i++) {
			if (read(fd, &byte, 1) != 1) {
				perror("read");
				return 1;
			}
		}
		long long u = now_ns();
		per[c] = (double)(u - t) / (double)m;
		t = u;
	}
	qsort(per, nchunks, sizeof(double), cmp);
	double med = nchunks % 2 ? per[nchunks / 2] : (per[nchunks / 2 - 1] + per[nchunks / 2]) / 2;
	printf("ns_per_call %.2f start_ns %lld end_ns %lld calls %ld mean_ns %.2f\n",
	       med, start, t, n, (double)(t - start) / (double)n);
	fflush(stdout);
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
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	double *per = calloc((n + CHUNK - 1) / CHUNK, sizeof(double));
	if (!per)
		return 1;
	if (!wait)
		return run(fd, n, per);
	printf("pid %d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (run(fd, n, per))
			return 1;
	}
	return 0;
}
