/**
 * How every long-running command ends, written once: Ctrl-C or SIGTERM, a
 * reader that closed stdout (EPIPE), --duration, -M (enough events), or the
 * exit of the -c command. `finish` runs exactly once, synchronously (detach,
 * final report); then the command's exit status is reported, the output is
 * flushed and the process exits.
 */
import { ChildProcess, spawn } from 'child_process';
import * as os from 'os';
import { OptionError } from '../errors';
import { flushOutput } from './output';
import { fail, say } from './report';

/** Why a command ended; with `command`, the -c child's exit code (or signal). */
export interface Ending {
  reason: 'signal' | 'epipe' | 'duration' | 'command' | 'max-events';
  /** The -c command's exit status, when it ended the run. */
  childStatus?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface RunOptions {
  /** Stop after this many seconds. */
  duration?: number;
  /** Run this command (-c) and stop when it exits. */
  command?: string;
  /** Exit with the -c command's exit status (128 + the signal's number when a signal killed it). */
  exitWithCommand?: boolean;
  /** Called when the -c command exits, before finish (to deliver its last events). */
  onCommandExit?: () => void;
  /** Ends the command: detach and print. Returns the exit status (default 0). */
  finish: (ending: Ending) => number | void;
}

/** A running command: the -c child, if any, and a way to end it from within (-M). */
export interface Run {
  child?: ChildProcess;
  end(ending: Ending): void;
}

/** The exit status a shell would give for a child's end: its code, or 128 + its signal's number. */
export function exitStatus(s: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (s.signal) return 128 + (os.constants.signals[s.signal] ?? 0);
  return s.code ?? 0;
}

/** Runs until one of the endings. A -c command still running then (-M, --duration, Ctrl-C) is sent SIGTERM. */
export function runUntilDone(opts: RunOptions): Run {
  let done = false;
  let child: ChildProcess | undefined;
  const end = (ending: Ending) => {
    if (done) return;
    done = true;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (running) child?.kill('SIGTERM');
    let code = 0;
    try {
      code = opts.finish(ending) ?? 0;
    } catch (e) {
      fail(e);
    }
    if (running) say('the command was still running: it was sent SIGTERM');
    const status = ending.childStatus;
    if (status) {
      const n = exitStatus(status);
      if (n !== 0) say(`the command ${status.signal ? `was killed by ${status.signal}` : `exited with status ${n}`}`);
      if (opts.exitWithCommand) code = n;
    }
    flushOutput(() => process.exit(code));
  };
  process.on('SIGINT', () => end({ reason: 'signal' }));
  process.on('SIGTERM', () => end({ reason: 'signal' }));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') end({ reason: 'epipe' });
  });
  if (opts.duration !== undefined) setTimeout(() => end({ reason: 'duration' }), opts.duration * 1000);
  if (opts.command === undefined) return { end };
  child = runCommand(opts.command);
  child.on('exit', (code, signal) => {
    opts.onCommandExit?.();
    end({ reason: 'command', childStatus: { code, signal } });
  });
  return { child, end };
}

/**
 * The -c command, started once its probes are attached. Plain words (`sync -f /`)
 * run directly, as bpftrace runs them, sparing a shell's start; anything a
 * shell would interpret (quotes, $, |, ;, globs, redirections) runs under /bin/sh.
 */
export function runCommand(command: string): ChildProcess {
  const words = command.trim().split(/\s+/);
  const plain = words[0] !== '' && words.every((w) => /^[\w@%+=:,./-]+$/.test(w));
  const child = plain ? spawn(words[0], words.slice(1), { stdio: 'inherit' }) : spawn('/bin/sh', ['-c', command], { stdio: 'inherit' });
  child.on('error', (e) => fail(new OptionError(`cannot run -c command: ${e.message}`)));
  return child;
}
