/**
 * Where a command's results go: stdout, or the file -o names (bpftrace's
 * -o). Messages (`kprobe-node: ...`) stay on stderr, and a -c command keeps
 * the terminal. Events reach it through a LineWriter, which holds at most a
 * chunk and a batch's worth of text: an output slower than the events holds
 * the reading of the ring, and the kernel counts what does not fit.
 */
import * as fs from 'fs';
import { Writable } from 'stream';
import type { LineSink } from '../format/sink';
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
  // Written in place, as stdout is when it is a file: nothing waits in memory for a thread.
  stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        for (let at = 0; at < chunk.length; ) at += fs.writeSync(fd, chunk, at);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    final(done) {
      fs.close(fd, (e) => done(e));
    },
  });
}

/** Calls `done` once everything written so far has reached the output. */
export function flushOutput(done: () => void): void {
  if (stream === process.stdout) {
    process.stdout.write('', done);
    return;
  }
  (stream as Writable).end(done);
}

/** Bytes of text collected before they are written: what a pipe takes at once (its default capacity). */
const CHUNK_BYTES = 1 << 16;

/**
 * Collects lines as UTF-8 in a buffer, and writes it when full or once per
 * turn of the event loop: formatters put their pieces straight into it (a
 * string per line, and one long string of them, cost more than formatting).
 * When the output cannot take a chunk at once (a pipe whose reader is
 * slower), `hold(true)` asks for no more events until it has, then `hold(false)`.
 */
export class LineWriter implements LineSink {
  private buf = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private used = 0;
  private scheduled = false;
  private held = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly hold: (held: boolean) => void = () => undefined,
  ) {}

  /** Adds one line (or several, joined by newlines), without its final newline. */
  write(line: string): void {
    this.text(line);
    this.end();
  }

  text(s: string): void {
    // A UTF-16 unit takes at most 3 bytes of UTF-8.
    if (!this.room(s.length * 3)) return this.send(Buffer.from(s));
    this.used += this.buf.write(s, this.used);
  }

  bytes(b: Uint8Array): void {
    if (!this.room(b.length)) return this.send(Buffer.from(b));
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  int(n: number): void {
    this.room(16);
    if (n < 1e9) {
      this.digits(n, 0);
      return;
    }
    // Two small integers print faster than a double: the high digits, then nine.
    const high = Math.floor(n / 1e9);
    this.digits(high, 0);
    this.digits(n - high * 1e9, 9);
  }

  /** `n` (below 1e9) in decimal, zero-padded to `width` digits. */
  private digits(n: number, width: number): void {
    let v = n | 0; // small integer arithmetic, not floating point
    let count = 1;
    for (let x = v; x >= 10; x = (x / 10) | 0) count++;
    if (count < width) count = width;
    const buf = this.buf;
    let p = this.used + count;
    this.used = p;
    for (let i = 0; i < count; i++) {
      const q = (v / 10) | 0;
      buf[--p] = 48 + v - q * 10;
      v = q;
    }
  }

  end(): void {
    this.room(1);
    this.buf[this.used++] = 0x0a;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Makes room for `n` more bytes, writing what is collected first when needed; false when `n` can never fit. */
  private room(n: number): boolean {
    if (this.used + n <= this.buf.length) return true;
    this.flush();
    return n <= this.buf.length;
  }

  flush(): void {
    this.scheduled = false;
    if (!this.used) return;
    const chunk = this.buf.subarray(0, this.used);
    this.used = 0;
    this.send(chunk);
    // A write still under way owns its bytes: the next lines go to a new buffer.
    if ((this.out as Writable).writableLength > 0) this.buf = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }

  private send(chunk: Buffer): void {
    if (this.out.write(chunk) || this.held) return;
    this.held = true;
    this.hold(true);
    this.out.once('drain', () => {
      this.held = false;
      this.hold(false);
    });
  }
}
