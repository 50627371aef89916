/**
 * Where the CLI's formatters put a line as they make it (lib/cli/output.ts's
 * LineWriter implements it): text, bytes made once and reused, and integers
 * written as digits, so that a line of a flood costs no string of its own.
 */
export interface LineSink {
  /** A string, as UTF-8. */
  text(s: string): void;
  /** Bytes made once (a cached piece of a line). */
  bytes(b: Uint8Array): void;
  /** An integer from 0 to 2^53, in decimal. */
  int(n: number): void;
  /** Ends the line. */
  end(): void;
  /** A whole line. */
  write(line: string): void;
}
