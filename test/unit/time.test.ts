/** The time column of event lines (lib/format/time.ts): wall clock to s, ms, us or ns, or seconds since start. */
import { sinceStart, timeColumn, wallClock } from '../../lib/format/time';
import { EventBatch, wallNs } from '../../lib/core/event';

test('wall clock with 0, 3, 6 or 9 digits of the second, from nanoseconds', () => {
  const d = new Date(2026, 0, 2, 3, 4, 5, 678);
  const ns = BigInt(d.getTime()) * 1_000_000n + 901_234n;
  expect(wallClock(ns, 0)).toBe('03:04:05');
  expect(wallClock(ns, 3)).toBe('03:04:05.678');
  expect(wallClock(ns, 6)).toBe('03:04:05.678901');
  expect(wallClock(ns, 9)).toBe('03:04:05.678901234');
});

test('seconds since the start, to the microsecond', () => {
  expect(sinceStart(5_000_000_000n + 1_234_567n, 5_000_000_000n)).toBe('0.001234');
  expect(sinceStart(17_500_000_000n, 5_000_000_000n)).toBe('12.500000');
  expect(sinceStart(4_999_000_000n, 5_000_000_000n)).toBe('-0.001000');
});

/** A batch of one record at monotonic time `ns`, as far as a time column reads it. */
const at = (ns: bigint) => ({ ns: () => ns }) as unknown as EventBatch;

test("timeColumn: s is textLine's own, none is null; the others read a record's monotonic ns", () => {
  expect(timeColumn('s', 0n)).toBeUndefined();
  expect(timeColumn('none', 0n)).toBeNull();
  const now = process.hrtime.bigint();
  expect(timeColumn('rel', now)!(at(now + 2_000_000n), 0)).toBe('0.002000');
  // The wall clock of a monotonic time is today's clock, to within the run.
  const col = timeColumn('ms', 0n)!(at(now), 0);
  const wall = Number(wallNs(now) / 1_000_000n);
  expect(Math.abs(wall - Date.now())).toBeLessThan(5000);
  expect(col).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
});
