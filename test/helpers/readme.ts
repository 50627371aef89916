/**
 * README examples as tests read them: a `$ sudo kprobe-node ...` line in a
 * code block, and the lines shown after it up to the next `$` line. A test
 * runs the command and holds its output to those lines (see matchOutput).
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './host';

export interface ReadmeExample {
  /** The arguments after `kprobe-node`, split as a shell splits them. */
  args: string[];
  /** The lines the README shows the command printing. */
  output: string[];
}

/** Splits a command line as sh does for plain words and '...' or "..." quoting. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}

/** The README example whose command line starts `$ sudo kprobe-node <start>`; fails when there is none. */
export function readmeExample(start: string): ReadmeExample {
  const lines = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(`$ sudo kprobe-node ${start}`));
  if (at < 0) throw new Error(`README.md has no example "$ sudo kprobe-node ${start}..."`);
  const output: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.startsWith('$ ') || l.startsWith('```')) break;
    output.push(l);
  }
  const command = lines[at].slice('$ sudo kprobe-node '.length).replace(/\s+#.*$/, '').replace(/\s*>.*$/, '');
  return { args: shellWords(command), output };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Whether `actual` shows the example's lines: in order, each run of lines
 * between `...` lines consecutive. `names` are replaced first (the README's
 * `/src/kn_mulsum` by the test's path); then addresses and offsets (`0x...`),
 * times of day, `line:column` positions and V8's marks of how far it has
 * optimized a function (`JS:~f` interpreted, `JS:^f`, `JS:+f`, `JS:*f`) stand for any such value.
 */
export function matchOutput(actual: string, expected: readonly string[], names: Array<[string, string]> = []): { ok: boolean; missing?: string } {
  const got = actual.split('\n');
  const segments: RegExp[][] = [[]];
  for (const line of expected) {
    if (line.trim() === '...') {
      segments.push([]);
      continue;
    }
    let re = escape(line);
    for (const [from, to] of names) re = re.split(escape(from)).join(escape(to));
    re = re
      .replace(/0x[0-9a-f]+/g, '0x[0-9a-f]+')
      .replace(/\d\d:\d\d:\d\d/g, '\\d\\d:\\d\\d:\\d\\d')
      .replace(/:\d+:\d+/g, ':\\d+:\\d+')
      .replace(/JS:(?:~|\\[\^+*])/g, 'JS:[~^+*]');
    segments[segments.length - 1].push(new RegExp(`^${re}$`));
  }
  let from = 0;
  for (const seg of segments.filter((s) => s.length)) {
    let found = -1;
    for (let i = from; i + seg.length <= got.length && found < 0; i++) {
      if (seg.every((re, j) => re.test(got[i + j]))) found = i;
    }
    if (found < 0) return { ok: false, missing: seg.map(String).join('\n') };
    from = found + seg.length;
  }
  return { ok: true };
}
