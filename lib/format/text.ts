/**
 * How the CLI prints events as text: one line each (time, comm, pid, the
 * probe when it helps, arguments), formatted straight from a batch.
 */
import type { ArgPlan } from '../core/decode';
import { EventBatch, wallMs } from '../core/event';
import type { StackShow } from './stack';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// Records of one second share their clock text: formatting a Date costs more than the rest of a line.
let clockSecond = NaN;
let clockText = '';

/** `13:20:42`, local time, of a CLOCK_MONOTONIC ns value. */
function clock(monotonicNs: number): string {
  const ms = wallMs(monotonicNs);
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    const d = new Date(ms);
    clockSecond = second;
    clockText = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  return clockText;
}

/** A value as the text output shows it: its plan's format, `<fault>` for one the kernel could not read. */
export function showValue(plan: ArgPlan | undefined, value: unknown): string {
  if (value === null || value === undefined) return '<fault>';
  if (plan?.format) return plan.format(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return String(value);
}

/** The time column of record `i` of a batch (lib/format/time.ts makes the finer ones). */
export type TimeColumn = (batch: EventBatch, i: number) => string;

/**
 * Record `i` of a batch as `13:20:42 cat 8279 dfd=-100 filename="/etc/hostname"`;

 * `probe` (the probe's or the function's name) goes after the pid when given;
 * `time` makes the time column (HH:MM:SS when undefined), or leaves it out
 * when null. With `stacks`, a record's stacks follow as lines of symbolized
 * frames (kernel frames, `--`, user frames, innermost first), indented.
 */
export function textLine(batch: EventBatch, i: number, probe?: string, time?: TimeColumn | null, stacks?: StackShow): string {
  // The default column is the common case: no call through a column function.
  const when = time === undefined ? clock(batch.nsNumber(i)) : time === null ? undefined : time(batch, i);
  let line = when === undefined ? `${batch.comm(i)} ${batch.pid(i)}` : `${when} ${batch.comm(i)} ${batch.pid(i)}`;
  if (probe !== undefined) line += ` ${probe}`;
  const plans = batch.plans(i);
  if (!plans.length && !stacks) return line;
  const payload = batch.payload(i);
  for (const plan of plans) {
    if (plan.fetch.hidden) continue;
    line += ` ${plan.name}=${showValue(plan, plan.isReturn ? payload.ret : payload.args[plan.name])}`;
  }
  if (stacks && (payload.kernelStack || payload.userStack)) {
    for (const l of stacks.lines({ pid: batch.pid(i), ...payload })) line += '\n' + l;
  }
  return line;
}
