/**
 * When an event happened, as a text line shows it: the wall clock to the
 * second (the default), millisecond, microsecond or nanosecond, seconds
 * since tracing began, or not at all. Sub-second digits come from the
 * kernel's monotonic clock: exact between events, while the wall clock as a
 * whole is known to about a millisecond.
 */
import { wallNs } from '../core/event';
import type { TimeColumn } from './text';

export type { TimeColumn } from './text';

/** `s` HH:MM:SS, `ms` HH:MM:SS.mmm, `us`, `ns`, `rel` seconds since the start, `none`. */
export type TimeFormat = 's' | 'ms' | 'us' | 'ns' | 'rel' | 'none';

const DIGITS: Record<'s' | 'ms' | 'us' | 'ns', number> = { s: 0, ms: 3, us: 6, ns: 9 };

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// Events of one second share their HH:MM:SS: formatting a Date costs more than the rest of a line.
let hmsSecond = -1n;
let hmsText = '';

/** HH:MM:SS in local time, with `digits` of the second after a dot. */
export function wallClock(wall: bigint, digits: number): string {
  const second = wall / 1_000_000_000n;
  if (second !== hmsSecond) {
    const d = new Date(Number(wall / 1_000_000n));
    hmsSecond = second;
    hmsText = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  if (!digits) return hmsText;
  const frac = String(wall % 1_000_000_000n).padStart(9, '0').slice(0, digits);
  return `${hmsText}.${frac}`;
}

/** Seconds since `startNs`, to the microsecond: `12.345678`. */
export function sinceStart(ns: bigint, startNs: bigint): string {
  const us = (ns - startNs) / 1000n;
  const sign = us < 0n ? '-' : '';
  const a = us < 0n ? -us : us;
  return `${sign}${a / 1_000_000n}.${String(a % 1_000_000n).padStart(6, '0')}`;
}

/**
 * The time column of event lines, from each record's CLOCK_MONOTONIC ns:
 * undefined for `s` (textLine's own HH:MM:SS), null for `none`. `startNs`
 * (monotonic) is where `rel` counts from.
 */
export function timeColumn(format: TimeFormat, startNs: bigint): TimeColumn | null | undefined {
  if (format === 's') return undefined;
  if (format === 'none') return null;
  if (format === 'rel') return (b, i) => sinceStart(b.ns(i), startNs);
  const digits = DIGITS[format];
  return (b, i) => wallClock(wallNs(b.ns(i)), digits);
}
