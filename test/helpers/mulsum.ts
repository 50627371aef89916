/**
 * kn_mulsum: main -> caller_fn -> mulsum, for the stack tests, built PIE
 * with frame pointers (-O1 -fno-omit-frame-pointer, noinline):
 *
 *   kn_mulsum [N] [wait]
 *
 * calls caller_fn N times (default 1); caller_fn calls mulsum once, then
 * getppid() once. It exits at once after the calls; with `wait` it prints
 * "pid P" and waits for a byte on stdin first, then prints "done" and waits
 * for stdin to close before exiting.
 *
 * mulsum is a leaf built without a frame of its own and starts with neither
 * `push %rbp` nor `endbr64` (-momit-leaf-frame-pointer -fcf-protection=none),
 * so that the kernel's own fix-up at uprobes on such entries (6.11+) cannot
 * stand in for the BPF program's recovery of its caller.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const MULSUM_SOURCE = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) long mulsum(long a, long b) { return a * b + a; }
__attribute__((noinline)) long caller_fn(long n) { long r = mulsum(n, 3) + 1; return r + (getppid() < 0); }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1, r = 0;
  int wait = argc > 2 && !strcmp(argv[2], "wait");
  char c;
  if (wait) {
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    if (read(0, &c, 1) != 1) return 4;
  }
  for (long i = 0; i < n; i++) r += caller_fn(i);
  if (wait) {
    printf("done %ld\n", r);
    fflush(stdout);
    while (read(0, &c, 1) == 1) {}
  }
  return r < 0;
}
`;

/** Builds kn_mulsum into a fresh temp dir; returns its path. */
export function buildMulsum(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-mulsum-'));
  const exe = path.join(dir, 'kn_mulsum');
  fs.writeFileSync(`${exe}.c`, MULSUM_SOURCE);
  execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-momit-leaf-frame-pointer', '-fcf-protection=none', '-fPIE', '-pie', '-o', exe, `${exe}.c`], { stdio: 'pipe' });
  return exe;
}

/** The first instruction of `fn` as objdump disassembles it (an independent reading of the file). */
export function firstInstruction(exe: string, fn: string): string {
  const text = execFileSync('objdump', ['-d', `--disassemble=${fn}`, exe], { encoding: 'utf8' });
  const m = /^\s+[0-9a-f]+:\t[0-9a-f ]+\t(.+)$/m.exec(text);
  return m ? m[1].trim() : '';
}

/** The GNU build id of `exe`, as readelf shows it. */
export function readelfBuildId(exe: string): string {
  const m = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', exe], { encoding: 'utf8' }));
  if (!m) throw new Error(`${exe} has no build id`);
  return m[1];
}
