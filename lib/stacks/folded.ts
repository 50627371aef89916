/**
 * Folded stacks, the input of flamegraph.pl and speedscope: one line per
 * stack, `comm;outermost;...;innermost count`. User frames come first, then
 * kernel frames (marked `_[k]`, as flamegraph.pl colours them; JIT frames
 * `_[j]`). Frames are function names without offsets, so that calls from
 * different places in one function merge.
 */
import { TraceEvent } from '../core/event';
import type { Frame } from './frame';
import { Stacks, SymbolizeOptions, symbolize } from './symbolize';

/** A frame as a folded stack shows it: its function, else `[unknown]` or `[file]`. */
function foldedName(f: Frame): string {
  let name: string;
  if (f.symbol !== undefined) name = f.symbol;
  else if (f.module) name = `[${f.kernel ? f.module : f.module.split('/').pop()}]`;
  else name = '[unknown]';
  // `;` separates frames: a name may not hold one.
  name = name.replace(/;/g, ':');
  if (f.kernel) return `${name}_[k]`;
  return f.jit ? `${name}_[j]` : name;
}

/** A stack with the command that ran it, as `countStacks` and `symbolize` give it. */
export interface FoldableStack extends Stacks {
  comm: string;
}

/**
 * One folded line: `comm;main;caller;callee count`. Takes a symbolized
 * stack (with its comm), or an event recorded with `stack`, symbolized now.
 */
export function folded(stack: FoldableStack | TraceEvent, count = 1, opts: SymbolizeOptions = {}): string {
  const s: FoldableStack = stack instanceof TraceEvent ? { comm: stack.comm, ...symbolize(stack, opts) } : stack;
  const frames = [...(s.user ?? []).slice().reverse(), ...(s.kernel ?? []).slice().reverse()].map(foldedName);
  return `${[s.comm.replace(/[;\s]/g, '_') || '[unknown]', ...frames].join(';')} ${count}`;
}
