/**
 * kn_tasks: a small C program for tests of what the kernel says about tasks
 * (threads, renames, forks, execs), so that every pid, tid, comm and file
 * name an event carries is known exactly. It prints "pid N", waits for one
 * byte on stdin (so probes can be attached first), then:
 *
 *   kn_tasks threads N1 N2     prints "tid1 T1" (the main thread) and "tid2 T2"
 *                              (a second thread) before waiting; then the main
 *                              thread calls getppid N1 times, the second N2 times
 *   kn_tasks fork NAME EXE     renames itself to NAME (prctl PR_SET_NAME), forks;
 *                              the child execs EXE (no arguments); the parent
 *                              waits for it and prints "child C"
 *
 * and prints "done". Its comm is `kn_tasks` until a rename.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Child } from './proc';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, long v) {
  char line[64];
  int n = snprintf(line, sizeof line, "%s %ld\n", what, v);
  if (write(1, line, n) != n) _exit(3);
}

static long second_calls;
static int release[2];

static void *second(void *arg) {
  char c;
  (void)arg;
  say("tid2", syscall(SYS_gettid));
  if (read(release[0], &c, 1) != 1) _exit(6);
  for (long i = 0; i < second_calls; i++) syscall(SYS_getppid);
  return NULL;
}

int main(int argc, char **argv) {
  char c;
  if (argc < 2) return 2;
  say("pid", getpid());
  if (!strcmp(argv[1], "threads") && argc == 4) {
    pthread_t t;
    long n1 = atol(argv[2]);
    second_calls = atol(argv[3]);
    if (pipe(release) || pthread_create(&t, NULL, second, NULL)) return 5;
    say("tid1", syscall(SYS_gettid));
    if (read(0, &c, 1) != 1) return 4;
    for (long i = 0; i < n1; i++) syscall(SYS_getppid);
    if (write(release[1], "x", 1) != 1) return 5;
    pthread_join(t, NULL);
  } else if (!strcmp(argv[1], "fork") && argc == 4) {
    int status;
    pid_t child;
    if (read(0, &c, 1) != 1) return 4;
    if (prctl(PR_SET_NAME, argv[2], 0, 0, 0)) return 5;
    child = fork();
    if (child < 0) return 5;
    if (child == 0) {
      execl(argv[3], argv[3], (char *)NULL);
      _exit(127);
    }
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) return 6;
    say("child", child);
  } else {
    return 2;
  }
  if (write(1, "done\n", 5) != 5) return 3;
  return 0;
}
`;

let built: string | undefined;

/** Compiles kn_tasks once per source version (shared by parallel test files). */
export function tasksPath(): string {
  if (built) return built;
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `kprobe-node-tasks-${hash}`);
  const exe = path.join(dir, 'kn_tasks');
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}`;
    fs.writeFileSync(`${tmp}.c`, SOURCE);
    execFileSync('gcc', ['-O1', '-pthread', '-o', tmp, `${tmp}.c`], { stdio: 'pipe' });
    fs.renameSync(tmp, exe); // atomic: another worker may be doing the same
    fs.rmSync(`${tmp}.c`, { force: true });
  }
  return (built = exe);
}

/** A started kn_tasks, paused before its work. */
export class Tasks extends Child {
  constructor(args: string[]) {
    super(tasksPath(), args);
  }

  async ready(): Promise<number> {
    const pid = Number((await this.waitFor(/^pid (\d+)$/m))[1]);
    if (pid !== this.pid) throw new Error(`kn_tasks says pid ${pid}, spawn says ${this.pid}`);
    return pid;
  }

  /** `threads` mode: the two thread ids, once both threads are waiting. */
  async threads(): Promise<{ pid: number; tid1: number; tid2: number }> {
    const pid = await this.ready();
    const tid1 = Number((await this.waitFor(/^tid1 (\d+)$/m))[1]);
    const tid2 = Number((await this.waitFor(/^tid2 (\d+)$/m))[1]);
    return { pid, tid1, tid2 };
  }

  /** Lets it run; resolves with its output lines after "pid N" once it exited 0. */
  async go(): Promise<string[]> {
    this.proc.stdin!.end('x');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`kn_tasks ${code ?? signal}: ${this.stderr}`);
    return this.stdout.split('\n').filter((l) => l && !l.startsWith('pid '));
  }
}
