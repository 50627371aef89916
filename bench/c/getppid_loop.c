// SPDX-License-Identifier: MIT
/*
 * The traced program of the benchmarks: calls getppid(2) N times through
 * syscall(2) (no libc caching) and reports its own cost per call.
 *
 *   getppid_loop N [wait]
 *
 * With "wait" it prints "pid <pid>" and waits for a line on stdin before it
 * starts, so that a tracer can be attached first. It prints one line:
 *   ns_per_call <f> start_ns <CLOCK_MONOTONIC> end_ns <CLOCK_MONOTONIC> calls <N>
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	char line[64];

	if (argc > 2 && strcmp(argv[2], "wait") == 0) {
		printf("pid %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	long nchunks = (n + CHUNK - 1) / CHUNK;
	double *per = calloc(nchunks, sizeof(double));
	long long start = now_ns(), t = start;
	for (long c = 0; c < nchunks; c++) {
		long m = c == nchunks - 1 ? n - c * CHUNK : CHUNK;
		for (long i = 0; i < m; i++)
			syscall(SYS_getppid);
		long long u = now_ns();
		per[c] = (double)(u - t) / (double)m;
		t = u;
	}
	long long end = t;
	qsort(per, nchunks, sizeof(double), cmp);
	double med = nchunks % 2 ? per[nchunks / 2] : (per[nchunks / 2 - 1] + per[nchunks / 2]) / 2;
	printf("ns_per_call %.2f start_ns %lld end_ns %lld calls %ld mean_ns %.2f\n",
	       med, start, end, n, (double)(end - start) / (double)n);
	fflush(stdout);
	return 0;
}
