/**
 * How every long-running command ends, written once: Ctrl-C or SIGTERM, a
 * reader that closed stdout (EPIPE), --duration, or the exit of the -c
 * command. `finish` runs exactly once, synchronously (detach, final report);
 * then stdout is flushed and the process exits.
 */
import { ChildProcess, spawn } from 'child_process';
import { OptionError } from '../errors';
import { fail } from './report';

/** Why a command ended; with `command`, the -c child's exit code (or signal). */
export interface Ending {
  reason: 'signal' | 'epipe' | 'duration' | 'command';
  /** The -c command's exit status, when it ended the run. */
  childStatus?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface RunOptions {
  /** Stop after this many seconds. */
  duration?: number;
  /** Run this command (-c) and stop when it exits. */
  command?: string;
  /** Called when the -c command exits, before finish (to deliver its last events). */
  onCommandExit?: () => void;
  /** Ends the command: detach and print. Returns the exit status (default 0). */
  finish: (ending: Ending) => number | void;
}

/** Runs until one of the endings; returns the -c child, if any. */
export function runUntilDone(opts: RunOptions): ChildProcess | undefined {
  let done = false;
  const end = (ending: Ending) => {
    if (done) return;
    done = true;
    let code = 0;
    try {
      code = opts.finish(ending) ?? 0;
    } catch (e) {
      fail(e);
    }
    process.stdout.write('', () => process.exit(code));
  };
  process.on('SIGINT', () => end({ reason: 'signal' }));
  process.on('SIGTERM', () => end({ reason: 'signal' }));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') end({ reason: 'epipe' });
  });
  if (opts.duration !== undefined) setTimeout(() => end({ reason: 'duration' }), opts.duration * 1000);
  if (opts.command === undefined) return undefined;
  const child = runCommand(opts.command);
  child.on('exit', (code, signal) => {
    opts.onCommandExit?.();
    end({ reason: 'command', childStatus: { code, signal } });
  });
  return child;
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
