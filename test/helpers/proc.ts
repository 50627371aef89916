/** Child processes for host tests: run to completion, or start and steer. */
import { ChildProcess, SpawnOptions, execFile, spawn } from 'child_process';
import * as path from 'path';
import { distLib } from './host';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (never rejects on a non-zero exit: tests look at `code`). */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 20000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals }) | null;
      if (e && typeof e.code === 'string') return reject(e); // could not start (ENOENT...)
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The CLI as users run it, from dist/. */
export const cliPath = path.join(distLib, 'cli', 'main.js');

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [cliPath, ...args], opts);
}

/** Children still running: test/setup.ts kills them after each test file. */
export const running = new Set<Child>();

/** A started child whose output is collected; `lines` resolves when a line matches. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(file: string, args: string[], opts: SpawnOptions = {}) {
    this.proc = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    running.add(this);
    this.exited = new Promise((resolve, reject) => {
      this.proc.on('error', (e) => {
        running.delete(this);
        reject(e);
      });
      this.proc.on('close', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error('child did not start');
    return this.proc.pid;
  }

  /** Waits until stdout holds a line matching `re`; returns the match. */
  async waitFor(re: RegExp, timeoutMs = 10000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this[stream].match(re);
      if (m) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`child exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${re}: stdout=${this.stdout} stderr=${this.stderr}`);
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}: stdout=${this.stdout} stderr=${this.stderr}`);
      await sleep(20);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until it holds or the time is up; returns whether it held. */
export async function until(cond: () => boolean, timeoutMs = 5000, everyMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}
