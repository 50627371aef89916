// SPDX-License-Identifier: MIT
/*
 * "The limit": a plain C libbpf consumer of the SAME BPF object kprobe-node
 * loads (dist/bpf/<arch>/kprobe_node.bpf.o). It sets wakeup_bytes and the ring size
 * like lib/core/session.ts does, writes an enabled, empty kn_config at index 1,
 * attaches kn_tracepoint to syscalls:sys_enter_getppid with BPF cookie 1 and
 * drains the ring with ring_buffer__consume on a 10 ms timer plus epoll
 * wake-ups, counting records.
 *
 *   consumer [--print=FILE] OBJ [target_pid expect]
 *
 * With --print, it also writes a text line per record to FILE
 * ("HH:MM:SS comm pid", as kprobe-node prints a syscall without arguments):
 * the limit a command-line tracer's output can be held to.
 *
 * Prints "ready" once attached. Exits when `expect` records of `target_pid`
 * arrived, or on SIGINT/SIGTERM, printing one line:
 *   done seen <all records> target <records of target_pid> lost <n> last_ns <CLOCK_MONOTONIC>
 * where last_ns is when the last record of target_pid was in hand.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "batch_drain.h"
#include "clock.h"
#include "kprobe_node.h"

#define RING_BYTES (8u << 20)

static volatile sig_atomic_t stop;
static unsigned long long seen, target_seen, expect;
static unsigned int target_pid;
static long long last_ns;

static FILE *print_to;

static void on_signal(int sig) { (void)sig; stop = 1; }

/* "HH:MM:SS comm pid", the clock text made once a second. */
static void print_record(const struct kn_record *r)
{
	static time_t last;
	static char clock_text[16];
	time_t now = time(NULL);

	if (now != last) {
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(clock_text, sizeof(clock_text), "%H:%M:%S", &tm);
		last = now;
	}
	fprintf(print_to, "%s %.16s %u\n", clock_text, r->comm, r->pid);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct kn_record *r = data;
	(void)ctx;
	seen++;
	if (print_to)
		print_record(r);
	if (r->pid == target_pid) {
		target_seen++;
		last_ns = now_ns();
		if (expect && target_seen >= expect)
			stop = 1;
	}
	return batch_take(size);
}

/* A `const volatile` global's bytes in .rodata, before load. */
static void *rodata_var(struct bpf_object *obj, const char *name, size_t size)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map, *rodata = NULL;
	size_t data_size = 0;

	if (!btf)
		return NULL;
	int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (sec_id < 0)
		return NULL;
	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t len = strlen(n);
		if (len >= 7 && strcmp(n + len - 7, ".rodata") == 0)
			rodata = map;
	}
	if (!rodata)
		return NULL;
	unsigned char *data = (unsigned char *)bpf_map__initial_value(rodata, &data_size);
	const struct btf_type *sec = btf__type_by_id(btf, sec_id);
	const struct btf_var_secinfo *vars = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++) {
		const struct btf_type *var = btf__type_by_id(btf, vars[i].type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 &&
		    vars[i].size == size && vars[i].offset + size <= data_size)
			return data + vars[i].offset;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strncmp(argv[1], "--print=", 8) == 0) {
		print_to = fopen(argv[1] + 8, "w");
		if (!print_to) {
			perror("--print");
			return 1;
		}
		static char buf[1 << 20];
		setvbuf(print_to, buf, _IOFBF, sizeof(buf));
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: consumer [--print=FILE] OBJ [target_pid expect]\n");
		return 2;
	}
	if (argc > 3) {
		target_pid = (unsigned int)atoi(argv[2]);
		expect = strtoull(argv[3], NULL, 10);
	}
	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		perror("open");
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "kn_tracepoint");
	struct bpf_map *ring = bpf_object__find_map_by_name(obj, "events");
	struct bpf_map *configs = bpf_object__find_map_by_name(obj, "configs");
	struct bpf_map *lost = bpf_object__find_map_by_name(obj, "lost");
	unsigned int *wakeup = rodata_var(obj, "wakeup_bytes", sizeof(unsigned int));
	if (!prog || !ring || !configs || !lost || !wakeup) {
		fprintf(stderr, "object lacks programs or maps\n");
		return 1;
	}
	*wakeup = RING_BYTES / 4; /* as lib/core/session.ts: ringBytes / 4 */
	bpf_map__set_max_entries(ring, RING_BYTES);
	/* kprobe-node loads the kprobe program too; only the tracepoint one is needed here */
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		if (p != prog)
			bpf_program__set_autoload(p, false);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load failed: %s\n", strerror(errno));
		return 1;
	}
	struct kn_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = KN_CFG_ENABLED;
	unsigned int id = 1;
	if (bpf_map_update_elem(bpf_map__fd(configs), &id, &cfg, BPF_ANY)) {
		perror("config");
		return 1;
	}
	LIBBPF_OPTS(bpf_tracepoint_opts, topts);
	topts.bpf_cookie = 1;
	struct bpf_link *link = bpf_program__attach_tracepoint_opts(prog, "syscalls", "sys_enter_getppid", &topts);
	if (!link) {
		fprintf(stderr, "attach failed: %s\n", strerror(errno));
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(ring), on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int epfd = ring_buffer__epoll_fd(rb);
	struct epoll_event ev;
	printf("ready\n");
	fflush(stdout);
	long long next = now_ns() + 10000000LL;
	while (!stop) {
		/* wake on the ring's epoll fd or at the next 10 ms tick, then drain */
		long long left = (next - now_ns()) / 1000000LL;
		int n = epoll_wait(epfd, &ev, 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno != EINTR)
			break;
		if (now_ns() >= next)
			next = now_ns() + 10000000LL;
		drain(rb);
	}
	drain(rb);
	unsigned long long nlost = 0;
	bpf_map_lookup_elem(bpf_map__fd(lost), &id, &nlost);
	if (print_to)
		fclose(print_to);
	printf("done seen %llu target %llu lost %llu last_ns %lld\n", seen, target_seen, nlost, last_ns);
	fflush(stdout);
	bpf_link__destroy(link);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
