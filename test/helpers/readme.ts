/**
 * The README's examples as tests run them: the fenced blocks of a section,
 * a TypeScript example compiled against the built package (as a user's
 * project would import 'kprobe-node', typings checked), and the check that
 * a run prints what the README shows.
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
