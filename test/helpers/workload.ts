/**
 * kn_workload: a tiny C program the host tests compile with gcc, so that what
 * the kernel sees is exactly known. It prints its pid, waits for one byte on
 * stdin (so a probe can be attached with a pid filter first), then:
 *
 *   kn_workload getppid N       calls syscall(SYS_getppid) N times
 *   kn_workload open PATH...    openat(AT_FDCWD, PATH, O_RDONLY) each, prints "fd" or "-errno" per line
 *   kn_workload syncfs PATH     opens PATH, prints the fd, calls syncfs(fd)
 *
 * and prints "done". Its comm is `kn_workload`.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Child } from './proc';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *s) { if (write(1, s, strlen(s)) < 0) _exit(3); }

int main(int argc, char **argv) {
  char line[64], c;
  if (argc < 2) return 2;
  snprintf(line, sizeof line, "pid %d\n", getpid());
  say(line);
  if (read(0, &c, 1) != 1) return 4;
  if (!strcmp(argv[1], "getppid") && argc == 3) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
  } else if (!strcmp(argv[1], "open")) {
    for (int i = 2; i < argc; i++) {
      long fd = syscall(SYS_openat, AT_FDCWD, argv[i], O_RDONLY);
      snprintf(line, sizeof line, "%ld\n", fd < 0 ? -(long)errno : fd);
      say(line);
      if (fd >= 0) close((int)fd);
    }
  } else if (!strcmp(argv[1], "syncfs") && argc == 3) {
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) return 5;
    snprintf(line, sizeof line, "fd %d\n", fd);
    say(line);
    if (syncfs(fd)) return 6;
  } else {
    return 2;
  }
  say("done\n");
  return 0;
}
`;

let built: string | undefined;

/** Compiles the workload once per source version (shared by parallel test files). */
export function workloadPath(): string {
  if (built) return built;
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `kprobe-node-test-${hash}`);
  const exe = path.join(dir, 'kn_workload');
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}`;
    fs.writeFileSync(`${tmp}.c`, SOURCE);
    execFileSync('gcc', ['-O1', '-o', tmp, `${tmp}.c`], { stdio: 'pipe' });
    fs.renameSync(tmp, exe); // atomic: another worker may be doing the same
    fs.rmSync(`${tmp}.c`, { force: true });
  }
  return (built = exe);
}

let commCounter = 0;

/** A comm no other process has: `prefix`, this test process's pid and a counter (at most 15 characters). */
export function uniqueComm(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${(commCounter++).toString(36)}`.slice(-15);
}

/** A copy of the program `file` in `dir`, named so that what it runs has the comm `comm`. */
export function copyAs(file: string, dir: string, comm: string): string {
  const copy = path.join(dir, comm);
  fs.copyFileSync(file, copy);
  fs.chmodSync(copy, 0o755);
  return copy;
}

/** A started workload (or a copy of it, under another comm), paused before its work; `go()` lets it run. */
export class Workload extends Child {
  /**
   * `file`: another build of the workload (a copy under another name, for a
   * comm of its own); `as.uid`: run as that user and group, with no
   * supplementary groups (setpriv execs it: same pid).
   */
  constructor(args: string[], file = workloadPath(), as: { uid?: number } = {}) {
    if (as.uid === undefined) super(file, args);
    else super('setpriv', [`--reuid=${as.uid}`, `--regid=${as.uid}`, '--clear-groups', file, ...args]);
  }

  /** Resolves once the program is paused (its start-up syscalls are behind it). */
  async ready(): Promise<number> {
    const m = await this.waitFor(/^pid (\d+)$/m);
    const pid = Number(m[1]);
    if (pid !== this.pid) throw new Error(`workload says pid ${pid}, spawn says ${this.pid}`);
    return pid;
  }

  /** Lets it run and waits for its end; throws unless it exited 0. */
  async go(): Promise<string[]> {
    this.proc.stdin!.end('x');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`kn_workload ${code ?? signal}: ${this.stderr}`);
    return this.stdout.split('\n').slice(1, -2); // between "pid N" and "done"
  }
}
