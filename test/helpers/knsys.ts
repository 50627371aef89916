/**
 * A small C program whose syscalls and CPU use are exactly known, built with
 * gcc under a name each test file chooses: its comm is that name, so a
 * --comm filter sees this program and nothing that parallel tests run.
 *
 *   NAME [-w] MODE ARGS...
 *     -w                 print "pid N", wait for one byte on stdin first
 *     getppid N          getppid(2) N times
 *     nanosleep NS...    nanosleep(2) for each NS nanoseconds
 *     lseek OFF...       lseek(2) on /dev/null to each offset
 *     close N            close(-1) N times (each fails with EBADF: ret -9)
 *     read N             read(2) 16 bytes of /dev/zero N times
 *     malloc SIZE...     malloc(3) and free each SIZE bytes
 *     fsync FILE N       write a byte to FILE and fsync(2) it, N times
 *     spin SECONDS       a busy loop in kn_spin_loop() until this much CPU time
 *                        is used; prints "cpu <seconds used>"
 *
 * It prints nothing else, so that its output does not mix with a tracer's
 * on a shared stdout. Built with frame pointers, so that user stacks
 * through kn_spin_loop can be walked.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Child } from './proc';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* The loop a CPU profile should find on top of the stack. */
__attribute__((noinline)) double kn_spin_loop(double seconds) {
  volatile unsigned long x = 0;
  double start = cpu_seconds(), now = start;
  while (now - start < seconds) {
    for (int i = 0; i < 100000; i++) x += i;
    now = cpu_seconds();
  }
  return now - start;
}

int main(int argc, char **argv) {
  int at = 1;
  char c, buf[16];
  if (at < argc && !strcmp(argv[at], "-w")) {
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    if (read(0, &c, 1) != 1) return 4;
    at++;
  }
  if (at >= argc) return 2;
  const char *mode = argv[at++];
  int null = open("/dev/null", O_RDONLY), zero = open("/dev/zero", O_RDONLY);
  if (null < 0 || zero < 0) return 3;
  if (!strcmp(mode, "getppid")) {
    for (long i = 0; i < atol(argv[at]); i++) syscall(SYS_getppid);
  } else if (!strcmp(mode, "nanosleep")) {
    for (; at < argc; at++) {
      long ns = atol(argv[at]);
      struct timespec ts = { ns / 1000000000, ns % 1000000000 };
      syscall(SYS_nanosleep, &ts, NULL);
    }
  } else if (!strcmp(mode, "lseek")) {
    for (; at < argc; at++) lseek(null, atol(argv[at]), SEEK_SET);
  } else if (!strcmp(mode, "close")) {
    for (long i = 0; i < atol(argv[at]); i++) syscall(SYS_close, -1);
  } else if (!strcmp(mode, "read")) {
    for (long i = 0; i < atol(argv[at]); i++) if (read(zero, buf, sizeof buf) != sizeof buf) return 5;
  } else if (!strcmp(mode, "malloc")) {
    /* Called through a volatile pointer, so that the compiler keeps each call. */
    void *(*volatile alloc)(size_t) = malloc;
    for (; at < argc; at++) free(alloc((size_t)atol(argv[at])));
  } else if (!strcmp(mode, "fsync")) {
    int fd = open(argv[at], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 6;
    for (long i = 0; i < atol(argv[at + 1]); i++) if (write(fd, "x", 1) != 1 || fsync(fd)) return 7;
    close(fd);
  } else if (!strcmp(mode, "spin")) {
    printf("cpu %.6f\n", kn_spin_loop(atof(argv[at])));
  } else {
    return 2;
  }
  return 0;
}
`;

/** Builds the program as `name` (at most 15 characters: its comm) once per source version; returns its path. */
export function knsys(name: string): string {
  if (name.length > 15) throw new Error(`${name}: a comm has at most 15 characters`);
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `kprobe-node-knsys-${hash}`);
  const exe = path.join(dir, name);
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}`;
    fs.writeFileSync(`${tmp}.c`, SOURCE);
    execFileSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-o', tmp, `${tmp}.c`], { stdio: 'pipe' });
    fs.renameSync(tmp, exe); // atomic: another worker may be doing the same
    fs.rmSync(`${tmp}.c`, { force: true });
  }
  return exe;
}

/** The program started with -w: paused before its work until go(). */
export class KnSys extends Child {
  constructor(exe: string, args: string[]) {
    super(exe, ['-w', ...args]);
  }

  async ready(): Promise<number> {
    return Number((await this.waitFor(/^pid (\d+)$/m))[1]);
  }

  /** Lets it run; resolves with its output after "pid N" once it exited 0. */
  async go(): Promise<string> {
    this.proc.stdin!.end('x');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`${this.proc.spawnfile} ${code ?? signal}: ${this.stderr}`);
    return this.stdout.replace(/^pid \d+\n/, '');
  }
}
