// SPDX-License-Identifier: MIT
/*
 * A slow producer for the latency benchmark: N calls of getppid(2), one every
 * INTERVAL_MS milliseconds.
 *
 *   tick_loop N INTERVAL_MS [wait]
 *
 * With "wait" it prints "pid <pid>" and waits for a line on stdin first.
 * Prints "done calls <N>" at the end.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	long ms = argc > 2 ? atol(argv[2]) : 100;
	char line[64];
	struct timespec gap = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	if (argc > 3 && strcmp(argv[3], "wait") == 0) {
		printf("pid %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	for (long i = 0; i < n; i++) {
		syscall(SYS_getppid);
		nanosleep(&gap, NULL);
	}
	printf("done calls %ld\n", n);
	return 0;
}
