// SPDX-License-Identifier: MIT
/*
 * The limit for the CLI's output path: a C program that formats ring
 * records as the CLI prints them and writes them with stdio, without a
 * kernel or a producer in the way.
 *
 *   print_lines text|json RECORDS OUT LINES
 *
 * RECORDS holds ring records as the ring hands them over (an 8-byte header
 * with the length, then struct kn_record), written by bench/output.ts; they
 * are formatted over and over until LINES lines are written to OUT (a file,
 * or - for stdout). Prints "lines <n> ns <elapsed>" (to stderr when OUT is -).
 *
 * text: "HH:MM:SS comm pid" (the clock text made once a second);
 * json: the CLI's --json object for a probe without arguments (the ISO time
 * made once a millisecond).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kprobe_node.h"

static char out_buf[1 << 16];

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "text") && strcmp(argv[1], "json"))) {
		fprintf(stderr, "usage: print_lines text|json RECORDS OUT LINES\n");
		return 2;
	}
	int json = strcmp(argv[1], "json") == 0;
	FILE *in = fopen(argv[2], "r");
	if (!in) {
		perror(argv[2]);
		return 1;
	}
	static char records[64 << 20];
	size_t bytes = fread(records, 1, sizeof(records), in);
	fclose(in);
	int to_stdout = strcmp(argv[3], "-") == 0;
	FILE *out = to_stdout ? stdout : fopen(argv[3], "w");
	if (!out) {
		perror(argv[3]);
		return 1;
	}
	setvbuf(out, out_buf, _IOFBF, sizeof(out_buf));
	unsigned long long want = strtoull(argv[4], NULL, 10), lines = 0;

	/* CLOCK_MONOTONIC -> wall clock, as the CLI does it: both read once. */
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	long long offset_ns = wall.tv_sec * 1000000000LL + wall.tv_nsec - now_ns();
	long long last_unit = -1;
	char when[40] = "";

	long long start = now_ns();
	while (lines < want) {
		for (size_t at = 0; at + 8 <= bytes && lines < want;) {
			unsigned int len = *(unsigned int *)(records + at) & 0x3fffffff;
			const struct kn_record *r = (const void *)(records + at + 8);
			long long wall_ns = (long long)r->ns + offset_ns;
			long long unit = json ? wall_ns / 1000000 : wall_ns / 1000000000;
			if (unit != last_unit) {
				time_t s = wall_ns / 1000000000;
				struct tm tm;
				if (json) {
					gmtime_r(&s, &tm);
					size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
					snprintf(when + n, sizeof(when) - n, ".%03lldZ", unit % 1000);
				} else {
					localtime_r(&s, &tm);
					strftime(when, sizeof(when), "%H:%M:%S", &tm);
				}
				last_unit = unit;
			}
			if (json)
				fprintf(out, "{\"time\":\"%s\",\"ns\":\"%llu\",\"probe\":\"tracepoint:syscalls:sys_enter_getppid\",\"cpu\":%u,\"pid\":%u,\"tid\":%u,\"uid\":%u,\"comm\":\"%.16s\",\"cgroupId\":%llu,\"args\":{}}\n",
					when, (unsigned long long)r->ns, r->cpu, r->pid, r->tid, r->uid, r->comm, (unsigned long long)r->cgroup_id);
			else
				fprintf(out, "%s %.16s %u\n", when, r->comm, r->pid);
			lines++;
			at += (len + 8 + 7) & ~7u;
		}
	}
	fclose(out);
	fprintf(to_stdout ? stderr : stdout, "lines %llu ns %lld\n", lines, now_ns() - start);
	return 0;
}
