// SPDX-License-Identifier: MIT
/*
 * How the C readers drain a ring buffer, the way native/tracer.cc does: the
 * record callback ends with batch_take(), which stops a batch at 1 MB, and
 * drain() takes up to 16 such batches per wake-up, so that one drain stays
 * bounded and a producer as fast as the reader cannot pin it.
 */
#pragma once
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>

#define BATCH_LIMIT (1u << 20)

static size_t batch_bytes;

/* The record callback's return: counts `size` bytes; -E2BIG once the batch is full. */
static int batch_take(size_t size)
{
	batch_bytes += size;
	return batch_bytes >= BATCH_LIMIT ? -E2BIG : 0;
}

static void drain(struct ring_buffer *rb)
{
	for (int round = 0; round < 16; round++) {
		batch_bytes = 0;
		ring_buffer__consume(rb);
		if (batch_bytes < BATCH_LIMIT)
			break;
	}
}
