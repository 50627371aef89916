/**
 * How the CLI prints events as text: one line each (time, comm, pid,
 * arguments), written in one piece per turn of the event loop.
 */
import type { ArgPlan } from '../core/decode';
import type { TraceEvent } from '../core/event';
import type { Probe } from '../core/probe';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function clock(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function show(plan: ArgPlan | undefined, value: unknown): string {
  if (value === null || value === undefined) return '<fault>';
  if (plan?.format) return plan.format(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return String(value);
}

/**
 * `13:20:42 cat 8279 dfd=-100 filename="/etc/hostname"`, with the probe's name
 * when several are traced; `time` makes the time column from the event's
 * monotonic ns (lib/format/time.ts), or leaves it out when null.
 */
export function formatLine(probe: Probe, ev: TraceEvent, withProbe: boolean, time: ((ns: bigint) => string) | null = () => clock(ev.time)): string {
  const parts = [ev.comm, String(ev.pid)];
  if (time) parts.unshift(time(ev.ns));
  // A wildcard's events each name their own function, with its own arguments.
  if (withProbe || probe.partPlans) parts.push(probe.partPlans ? ev.probe : probe.name);
  const plans = probe.partPlans?.get(ev.probe) ?? probe.plans;
  for (const plan of plans) {
    if (plan.fetch.hidden) continue;
    const value = plan.isReturn ? ev.ret : (ev.args as Record<string, unknown>)[plan.name];
    parts.push(`${plan.name}=${show(plan, value)}`);
  }
  return parts.join(' ');
}

/** Collects lines and writes them in one piece per turn of the event loop. */
export class LineWriter {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly out: NodeJS.WritableStream) {}

  write(line: string): void {
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (!this.lines.length) return;
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    this.out.write(text);
  }
}
