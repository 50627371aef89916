/**
 * Where a command's results go: stdout, or the file -o names (bpftrace's
 * -o). Messages (`kprobe-node: ...`) stay on stderr, and a -c command keeps
 * the terminal.
 */
import * as fs from 'fs';
import { fsError } from '../sys/errno';

let stream: NodeJS.WritableStream = process.stdout;

/** The stream results are written to. */
export function output(): NodeJS.WritableStream {
  return stream;
}

/** Sends results to `file` from now on (created, or emptied); fails now when it cannot be written. */
export function openOutput(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'w');
  } catch (e) {
    throw fsError(e, `cannot write the output file ${file}`);
  }
  stream = fs.createWriteStream(file, { fd });
}

/** Calls `done` once everything written so far has reached the output. */
export function flushOutput(done: () => void): void {
  if (stream === process.stdout) {
    process.stdout.write('', done);
    return;
  }
  (stream as fs.WriteStream).end(done);
}
