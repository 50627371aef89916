// SPDX-License-Identifier: MIT
/*
 * The traced program of the benchmarks: calls getppid(2) N times through
 * syscall(2) (no libc caching) and reports its own cost per call.
 *
 *   getppid_loop N [wait]
 *   getppid_loop for=SECONDS [wait]     as many calls as fit in SECONDS (whole chunks)
 *
 * With "wait" it prints "pid <pid>" and waits for a line on stdin before it
 * starts, so that a tracer can be attached first. It prints one line:
 *   ns_per_call <f> start_ns <CLOCK_MONOTONIC> end_ns <CLOCK_MONOTONIC> calls <N> mean_ns <f>
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timed_loop.h"

static int call(void)
{
	syscall(SYS_getppid);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	double seconds = argc > 1 && strncmp(argv[1], "for=", 4) == 0 ? atof(argv[1] + 4) : 0;
	char line[64];

	if (argc > 2 && strcmp(argv[2], "wait") == 0) {
		printf("pid %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	if (seconds > 0)
		return timed_loop_for(seconds, call);
	double *per = calloc((n + CHUNK - 1) / CHUNK, sizeof(double));
	if (!per)
		return 1;
	return timed_loop(n, per, call);
}
