/**
 * The README's examples as tests run them: the fenced blocks of a section,
 * a TypeScript example compiled against the built package (as a user's
 * project would import 'kprobe-node', typings checked), and the check that
 * a run prints what the README shows; and `$ sudo kprobe-node ...` (or
 * `$ kprobe-node ...`) command lines with the output shown under them
 * (readmeExample, matchOutput).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from './host';

export interface Block {
  /** The fence's info string: `ts`, `ini`, or '' for commands and output. */
  lang: string;
  text: string;
}

/** The fenced blocks of the README section `## <title>` (up to the next `## `), in order. */
export function readmeBlocks(title: string): Block[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section "## ${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```(\w*)\n([^]*?)^```$/gm)].map((m) => ({ lang: m[1], text: m[2] }));
}

/**
 * Compiles a TypeScript example that imports 'kprobe-node' with the
 * repository's tsc, in a directory of its own where 'kprobe-node' is this
 * build; returns the JavaScript file to run with node.
 */
export function compileExample(code: string, name = 'example'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-readme-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'kprobe-node'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'));
  fs.writeFileSync(path.join(dir, `${name}.ts`), code);
  const compilerOptions = {
    target: 'ES2022', module: 'commonjs', moduleResolution: 'bundler', lib: ['ES2022', 'ESNext.Disposable'],
    types: ['node'], strict: true, skipLibCheck: true, outDir: 'out', rootDir: '.',
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: [`${name}.ts`] }));
  try {
    execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', dir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the README example does not compile:\n${String((e as { stdout?: Buffer }).stdout ?? e)}\n${code}`);
  }
  return path.join(dir, 'out', `${name}.js`);
}

/**
 * A shown line as a pattern: every number stands for any number (pids,
 * counts, ids and times differ from run to run), and so does the padding
 * that lines numbers up.
 */
export function linePattern(line: string): RegExp {
  const body = line.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '\\d+').replace(/ +/g, ' +');
  return new RegExp(`^\\s*${body}$`);
}

/** The shown lines that no printed line matches (empty when the run prints what the README shows). */
export function unmatched(shown: string, printed: string): string[] {
  const lines = printed.split('\n');
  return shown.split('\n').filter((s) => s.trim() !== '' && !lines.some((l) => linePattern(s).test(l)));
}

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

/** The command line prefixes of kprobe-node examples, root's and any user's (`kprobe-node types`). */
export const COMMAND_PREFIXES = ['$ sudo kprobe-node ', '$ kprobe-node '];

/**
 * The first README example whose command line starts `$ sudo kprobe-node <start>`
 * (or `$ kprobe-node <start>`); fails when there is none. A trailing
 * ` # comment` and a trailing ` > file` redirection are not arguments.
 */
export function readmeExample(start: string): ReadmeExample {
  const lines = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split('\n');
  const at = lines.findIndex((l) => COMMAND_PREFIXES.some((p) => l.startsWith(`${p}${start}`)));
  if (at < 0) throw new Error(`README.md has no example "$ sudo kprobe-node ${start}..." or "$ kprobe-node ${start}..."`);
  const output: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.startsWith('$ ') || l.startsWith('```')) break;
    output.push(l);
  }
  const prefix = COMMAND_PREFIXES.find((p) => lines[at].startsWith(p))!;
  const command = lines[at].slice(prefix.length).replace(/\s+#.*$/, '').replace(/\s+>\s*\S+$/, '');
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
