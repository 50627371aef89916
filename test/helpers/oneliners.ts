/**
 * The README's table of bpftrace one-liners and BCC tools as kprobe-node
 * commands ("Coming from bpftrace or BCC"), read from README.md, so that the
 * tests run exactly the commands it shows.
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './host';

export interface OneLiner {
  /** The first column: what it does. */
  what: string;
  /** The bpftrace or BCC command. */
  theirs: string;
  /** The kprobe-node command, as a shell would read it (argv after `kprobe-node`). */
  argv: string[];
  /** The command as written. */
  command: string;
  /** Where its test runs: `host`, or `VM` (kprobes). */
  where: 'host' | 'VM';
}

/** Words of a command line as sh splits them: single and double quotes, no expansions. */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed ${c} in ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === ' ') {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/** The table's rows. */
export function oneLiners(): OneLiner[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('### Coming from bpftrace or BCC');
  if (start < 0) throw new Error('README.md has no "Coming from bpftrace or BCC" section');
  const rows: OneLiner[] = [];
  for (const line of readme.slice(start).split('\n')) {
    const m = /^\| ([^|`]+) \| `(.+)` \| `(kprobe-node [^`]+)` \| (host|VM) \|$/.exec(line);
    if (!m) continue;
    const words = shellWords(m[3]);
    rows.push({ what: m[1].trim(), theirs: m[2], command: m[3], argv: words.slice(1), where: m[4] as 'host' | 'VM' });
  }
  return rows;
}
