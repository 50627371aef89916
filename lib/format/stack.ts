/**
 * How stacks are shown: symbolized frames under each event line (kernel
 * frames, `--`, user frames, innermost first), as JSON arrays of strings, and
 * the stacks counted in the kernel: most frequent first, or folded.
 */
import type { Frame } from '../stacks/frame';
import { folded } from '../stacks/folded';
import { StackSource, Stacks, SymbolizeOptions, symbolize } from '../stacks/symbolize';
import type { StackSnapshot } from '../summary';

export interface StackFormat extends SymbolizeOptions {
  /** Mark frames recovered at a function's entry (`--explain`). */
  explain?: boolean;
}

function frameText(f: Frame, opts: StackFormat): string {
  return opts.explain && f.callerAtEntry ? `${f} [caller at entry]` : String(f);
}

/** Symbolized stacks as lines: kernel frames, `--`, user frames, innermost first. */
export function frameLines(stacks: Stacks, opts: StackFormat = {}, indent = '    '): string[] {
  const { kernel, user } = stacks;
  const lines: string[] = [];
  for (const f of kernel ?? []) lines.push(indent + frameText(f, opts));
  if (kernel?.length && user?.length) lines.push(`${indent}--`);
  for (const f of user ?? []) lines.push(indent + frameText(f, opts));
  return lines;
}

/** An event's stacks as text lines under its event line. */
export function stackLines(ev: StackSource, opts: StackFormat = {}): string[] {
  return frameLines(symbolize(ev, opts), opts);
}

/** An event's symbolized stacks as JSON members: `,"kernelStack":[...],"userStack":[...]` (arrays of strings), or ''. */
export function stacksJson(ev: StackSource, opts: StackFormat = {}): string {
  const { kernel, user } = symbolize(ev, opts);
  let extra = '';
  if (kernel) extra += `,"kernelStack":${JSON.stringify(kernel.map(String))}`;
  if (user) extra += `,"userStack":${JSON.stringify(user.map(String))}`;
  return extra;
}

/**
 * An event's stacks, shown one way: what the event formatters are handed
 * (lib/format/text.ts, lib/format/json.ts), so that the symbolizer loads only
 * for a command that records stacks.
 */
export interface StackShow {
  /** Text lines under the event's line. */
  lines(ev: StackSource): string[];
  /** JSON members: `,"kernelStack":[...],"userStack":[...]`, or ''. */
  json(ev: StackSource): string;
}

export function stackShow(opts: StackFormat = {}): StackShow {
  return { lines: (ev) => stackLines(ev, opts), json: (ev) => stacksJson(ev, opts) };
}

/** Why a counted stack has no frames: the kernel could not keep it. */
function lostLines(lost: ReadonlyArray<'kernel' | 'user'>): string[] {
  return lost.map((side) => `    [${side} stack not kept: the stack map was full or two stacks shared a slot; raise --max-stacks]`);
}

/**
 * Counted stacks, most frequent first: per stack `<count>  <comm> [pid] <probe>`
 * and its frames indented below, a blank line between stacks.
 */
export function stackCountsReport(probe: string, snap: StackSnapshot, opts: StackFormat = {}): string {
  return snap
    .map((s) => {
      const head = `${String(s.count).padStart(8)}  ${s.comm}${s.pid !== undefined ? ` ${s.pid}` : ''} ${probe}`;
      const lines = [...frameLines(s, opts), ...lostLines(s.lost ?? [])];
      return `${head}\n${lines.join('\n') || '    [no stack]'}\n`;
    })
    .join('\n');
}

/** Counted stacks as folded lines, one per stack: `comm;outermost;...;innermost count`. */
export function foldedReport(snap: StackSnapshot): string {
  return snap.map((s) => folded(s, s.count) + '\n').join('');
}
