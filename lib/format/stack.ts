/**
 * How stacks are shown: symbolized frames under each event line, or, for
 * `--count --stack`, the most common stacks with their counts (most frequent
 * first), aggregated from the streamed events.
 */
import type { TraceEvent } from '../core/event';
import { symbolize } from '../stacks/symbolize';

/** The event's stacks as text lines, innermost frame first: kernel frames, `--`, user frames. */
export function stackLines(ev: TraceEvent, indent = '    '): string[] {
  const { kernel, user } = symbolize(ev);
  const lines: string[] = [];
  for (const f of kernel ?? []) lines.push(indent + f.toString());
  if (kernel?.length && user?.length) lines.push(`${indent}--`);
  for (const f of user ?? []) lines.push(indent + f.toString());
  return lines;
}

/** A JSON event line with its symbolized stacks added as `kernelStack` / `userStack` (arrays of strings). */
export function withStacksJson(line: string, ev: TraceEvent): string {
  const { kernel, user } = symbolize(ev);
  let extra = '';
  if (kernel) extra += `,"kernelStack":${JSON.stringify(kernel.map(String))}`;
  if (user) extra += `,"userStack":${JSON.stringify(user.map(String))}`;
  return extra && line.endsWith('}') ? line.slice(0, -1) + extra + '}' : line;
}

/** Distinct raw stacks remembered with their text; past this the memo starts over. */
const MEMO_LIMIT = 65536;

/**
 * Counts events by (probe, comm, symbolized stack). Each distinct raw stack
 * of a process is symbolized once, on its first event, while the process
 * still exists; identical stacks of different processes add up.
 */
export class StackCounter {
  private readonly memo = new Map<string, string>();
  private readonly counts = new Map<string, { count: number; head: string; frames: string }>();
  /** Events counted. */
  total = 0;

  add(probe: string, ev: TraceEvent): void {
    const raw = `${probe}\0${ev.comm}\0${ev.pid}\0${ev.kernelStack?.join(',') ?? ''}\0${ev.userStack?.join(',') ?? ''}`;
    let key = this.memo.get(raw);
    if (key === undefined) {
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      const frames = stackLines(ev, '    ').join('\n');
      key = `${probe}\0${ev.comm}\0${frames}`;
      this.memo.set(raw, key);
      if (!this.counts.has(key)) this.counts.set(key, { count: 0, head: `${ev.comm} ${probe}`, frames });
    }
    (this.counts.get(key) as { count: number }).count++;
    this.total++;
  }

  /** The stacks by count, most frequent first, `limit` at most. */
  top(limit = Infinity): Array<{ count: number; head: string; frames: string }> {
    return [...this.counts.values()].sort((a, b) => b.count - a.count).slice(0, limit);
  }

  /**
   * The report: per stack, `<count>  <comm> <probe>` and its frames indented
   * below, a blank line between stacks.
   */
  report(limit = Infinity): string {
    return this.top(limit)
      .map((s) => `${String(s.count).padStart(8)}  ${s.head}\n${s.frames || '    [no stack]'}\n`)
      .join('\n');
  }
}
