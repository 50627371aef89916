// SPDX-License-Identifier: MIT
/* CLOCK_MONOTONIC in ns: the clock the loops, the readers and kprobe-node's events share. */
#pragma once
#include <time.h>

static inline long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
