/**
 * What every benchmark shares: the rows and verdicts of the results table,
 * the statistics behind them, and logging. bench/run.ts and
 * bench/kprobe_path.ts both use it.
 */
import * as fs from 'fs';

/** A row and a verdict of the results table. */
export interface Row {
  bench: string;
  contender: string;
  median: string;
  spread: string;
  extra?: string;
  note?: string;
}

export interface Verdict {
  what: string;
  value: string;
  target: string;
  pass: boolean | undefined; // undefined: could not be measured
  note?: string;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `min–max (n=N)` of the finite values. */
export function spread(xs: number[], digits = 0): string {
  const ok = xs.filter(Number.isFinite);
  if (!ok.length) return '';
  return `${fmt(Math.min(...ok), digits)}–${fmt(Math.max(...ok), digits)} (n=${ok.length})`;
}

export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

export function kprobesAvailable(): boolean {
  return fs.existsSync('/sys/bus/event_source/devices/kprobe');
}
