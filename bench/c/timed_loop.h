// SPDX-License-Identifier: MIT
/*
 * The timing both traced loops share: N calls of `call`, timed in chunks of
 * 10k with CLOCK_MONOTONIC. Prints one line:
 *   ns_per_call <f> start_ns <ns> end_ns <ns> calls <N> mean_ns <f>
 * ns_per_call is the median chunk's, which resists preemption by other load.
 * `call` is a static function the compiler inlines into the loop.
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

#define CHUNK 10000

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Returns non-zero when a call fails. `per` holds a double per chunk. */
static inline __attribute__((always_inline)) int timed_loop(long n, double *per, int (*call)(void))
{
	long nchunks = (n + CHUNK - 1) / CHUNK;
	long long start = now_ns(), t = start;

	for (long c = 0; c < nchunks; c++) {
		long m = c == nchunks - 1 ? n - c * CHUNK : CHUNK;
		for (long i = 0; i < m; i++) {
			if (call())
				return 1;
		}
		long long u = now_ns();
		per[c] = (double)(u - t) / (double)m;
		t = u;
	}
	qsort(per, nchunks, sizeof(double), cmp_double);
	double med = nchunks % 2 ? per[nchunks / 2] : (per[nchunks / 2 - 1] + per[nchunks / 2]) / 2;
	printf("ns_per_call %.2f start_ns %lld end_ns %lld calls %ld mean_ns %.2f\n",
	       med, start, t, n, (double)(t - start) / (double)n);
	fflush(stdout);
	return 0;
}

/* The same, for as many whole chunks as fit in `seconds`; `calls` says how many were made. */
static inline __attribute__((always_inline)) int timed_loop_for(double seconds, int (*call)(void))
{
	long max = (long)(seconds * 1e9 / 20.0 / CHUNK) + 1; /* at most one call per 20 ns */
	double *per = calloc(max, sizeof(double));
	long long start = now_ns(), t = start, until = start + (long long)(seconds * 1e9);
	long c = 0;

	if (!per)
		return 1;
	while (t < until && c < max) {
		for (long i = 0; i < CHUNK; i++) {
			if (call())
				return 1;
		}
		long long u = now_ns();
		per[c++] = (double)(u - t) / CHUNK;
		t = u;
	}
	qsort(per, c, sizeof(double), cmp_double);
	double med = c % 2 ? per[c / 2] : (per[c / 2 - 1] + per[c / 2]) / 2;
	printf("ns_per_call %.2f start_ns %lld end_ns %lld calls %ld mean_ns %.2f\n",
	       med, start, t, c * CHUNK, (double)(t - start) / (double)(c * CHUNK));
	fflush(stdout);
	return 0;
}
