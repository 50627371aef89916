/**
 * kn_uprog: a tiny C program for uprobe and stack tests, built with frame
 * pointers so that user stacks can be walked:
 *
 *   kn_add(a, b)      returns a + b
 *   kn_caller(n)      returns kn_add(n, 22)
 *   kn_other(n)       returns kn_add(n, 1)
 *
 *   kn_uprog [wait] [many]
 *
 * `wait`: prints "pid N" and waits for one byte on stdin first. Then it calls
 * kn_caller(20) once (`many`: kn_caller 3 times and kn_other 5 times), calls
 * getpid(), prints "r <kn_caller's result>" and lingers 300 ms before exiting,
 * long enough for its events to be decoded while it still exists.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Probe } from '../../lib';
import { Child } from './proc';

export const UPROG_SOURCE = String.raw`
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int kn_add(int a, int b) { return a + b; }
__attribute__((noinline)) int kn_caller(int n) { return kn_add(n, 22) + 0; }
__attribute__((noinline)) int kn_other(int n) { return kn_add(n, 1) + 0; }

int main(int argc, char **argv) {
  int wait = 0, many = 0, r = 0;
  char c;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "wait")) wait = 1;
    if (!strcmp(argv[i], "many")) many = 1;
  }
  if (wait) {
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    if (read(0, &c, 1) != 1) return 4;
  }
  for (int i = 0; i < (many ? 3 : 1); i++) r = kn_caller(20);
  for (int i = 0; i < (many ? 5 : 0); i++) kn_other(20);
  if (getpid() <= 0) return 5;
  printf("r %d\n", r);
  fflush(stdout);
  usleep(300000);
  return 0;
}
`;

/** Builds kn_uprog into a fresh temp dir (-O0, frame pointers, debug info); returns its path. */
export function buildUprog(extraFlags: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-uprog-'));
  const exe = path.join(dir, 'kn_uprog');
  fs.writeFileSync(`${exe}.c`, UPROG_SOURCE);
  execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-g', ...extraFlags, '-o', exe, `${exe}.c`], { stdio: 'pipe' });
  return exe;
}

/** A started kn_uprog in `wait` mode: `ready()` gives its pid, `go()` lets it run to its end. */
export class Uprog extends Child {
  constructor(exe: string, args: string[] = []) {
    super(exe, ['wait', ...args]);
  }

  async ready(): Promise<number> {
    return Number((await this.waitFor(/^pid (\d+)$/m))[1]);
  }

  async go(): Promise<string> {
    this.proc.stdin!.end('x');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`kn_uprog ${code ?? signal}: ${this.stderr}`);
    return this.stdout;
  }
}

/** Addresses of instructions in `fn`, from objdump's disassembly (an independent reading of the file). */
export function instructionAddresses(exe: string, fn: string): number[] {
  const text = execFileSync('objdump', ['-d', `--disassemble=${fn}`, exe], { encoding: 'utf8' });
  return [...text.matchAll(/^\s+([0-9a-f]+):\t/gm)].map((m) => parseInt(m[1], 16));
}

/**
 * For a describe block of uprobe tests: kn_uprog is built before them and
 * removed after, and the probes given to `track` are closed after each test.
 */
export function uprogFixture(): { readonly exe: string; track: (p: Probe) => Probe } {
  let exe = '';
  const open: Probe[] = [];
  beforeAll(() => {
    exe = buildUprog();
  });
  afterAll(() => fs.rmSync(path.dirname(exe), { recursive: true, force: true }));
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  return {
    get exe() {
      return exe;
    },
    track: (p) => (open.push(p), p),
  };
}
