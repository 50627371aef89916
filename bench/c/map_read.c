// SPDX-License-Identifier: MIT
/*
 * map_read <map id> <rounds>: reads every entry of a BPF hash map of 24-byte
 * keys and u64 values, alternately one key at a time (BPF_MAP_GET_NEXT_KEY
 * then BPF_MAP_LOOKUP_ELEM per key, as the addon read kprobe-node's count map
 * before) and in batches (BPF_MAP_LOOKUP_BATCH, as it reads it now). Prints
 * one line: "entries <n> per_key_ns <median> batch_ns <median>".
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"

#define KEY 24
#define BATCH 1024

static long long per_key(int fd, long *n)
{
	unsigned char key[KEY], next[KEY];
	unsigned long long value;
	void *prev = NULL;
	long long t = now_ns();

	*n = 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (bpf_map_lookup_elem(fd, next, &value) == 0)
			(*n)++;
		memcpy(key, next, KEY);
		prev = key;
	}
	return now_ns() - t;
}

static long long batch(int fd, long *n)
{
	static unsigned char keys[BATCH * KEY];
	static unsigned long long values[BATCH];
	unsigned char token[KEY];
	int first = 1;
	long long t = now_ns();

	*n = 0;
	for (;;) {
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : token, token, keys, values, &count, NULL);

		*n += count;
		if (err) {
			if (errno != ENOENT) {
				perror("bpf_map_lookup_batch");
				exit(1);
			}
			break;
		}
		first = 0;
	}
	return now_ns() - t;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int fd, rounds;
	long a = 0, b = 0;
	long long *pk, *bt;

	if (argc != 3)
		return 2;
	fd = bpf_map_get_fd_by_id(atoi(argv[1]));
	rounds = atoi(argv[2]);
	if (fd < 0) {
		perror("bpf_map_get_fd_by_id");
		return 1;
	}
	pk = calloc(rounds, sizeof(*pk));
	bt = calloc(rounds, sizeof(*bt));
	for (int i = 0; i < rounds; i++) {
		pk[i] = per_key(fd, &a);
		bt[i] = batch(fd, &b);
	}
	if (a != b) {
		fprintf(stderr, "per-key read %ld entries, batch %ld\n", a, b);
		return 1;
	}
	qsort(pk, rounds, sizeof(*pk), cmp);
	qsort(bt, rounds, sizeof(*bt), cmp);
	printf("entries %ld per_key_ns %lld batch_ns %lld\n", a, pk[rounds / 2], bt[rounds / 2]);
	return 0;
}
