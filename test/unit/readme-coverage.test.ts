/**
 * Every command line the README shows (`$ ...` in a fenced block) is run by a
 * test. A `$ sudo kprobe-node X` or `$ kprobe-node X` line is run by the test
 * that looks it up with readmeExample and a literal prefix, which finds the
 * first such line; every line of a section a test reads whole with
 * readmeBlocks and a literal title is run by it; any other line (cat, node,
 * curl...) is set-up or follow-up of the kprobe-node line of its block, and is
 * run when that line is.
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../helpers/host';
import { COMMAND_PREFIXES } from '../helpers/readme';

interface CommandLine {
  /** 1-based line number in README.md. */
  line: number;
  text: string;
  /** The `## ` section it is in ('' before the first). */
  section: string;
  /** Index of its fenced block in the README. */
  block: number;
}

/** The `$ ` lines inside the README's fenced blocks. */
function commandLines(readme: string): CommandLine[] {
  const out: CommandLine[] = [];
  let section = '';
  let block = -1;
  let inFence = false;
  readme.split('\n').forEach((text, i) => {
    if (text.startsWith('```')) {
      inFence = !inFence;
      if (inFence) block++;
    } else if (!inFence && text.startsWith('## ')) {
      section = text.slice(3).trim();
    } else if (inFence && text.startsWith('$ ')) {
      out.push({ line: i + 1, text, section, block });
    }
  });
  return out;
}

/** The .ts files under test/, except this one and the helper that defines the lookups. */
function testSources(): string[] {
  const skip = new Set([path.join('unit', 'readme-coverage.test.ts'), path.join('helpers', 'readme.ts')]);
  const root = path.join(repoRoot, 'test');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !skip.has(path.relative(root, p))) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out;
}

/** The string literal arguments of calls to `fn` in `sources` ('...' or "...", no escapes). */
function literalArgs(sources: string[], fn: string): string[] {
  const re = new RegExp(`\\b${fn}\\(\\s*(?:'([^'\\\\\\n]*)'|"([^"\\\\\\n]*)")`, 'g');
  return sources.flatMap((s) => [...s.matchAll(re)].map((m) => m[1] ?? m[2]));
}

/** The lines of `lines` no test runs. */
function uncovered(lines: CommandLine[], sources: string[]): CommandLine[] {
  const covered = new Set<CommandLine>();
  for (const start of literalArgs(sources, 'readmeExample')) {
    // readmeExample takes the first line that starts so.
    const hit = lines.find((l) => COMMAND_PREFIXES.some((p) => l.text.startsWith(`${p}${start}`)));
    if (hit) covered.add(hit);
  }
  const sections = new Set(literalArgs(sources, 'readmeBlocks'));
  for (const l of lines) if (sections.has(l.section)) covered.add(l);
  const isKprobeNode = (l: CommandLine) => COMMAND_PREFIXES.some((p) => l.text.startsWith(p));
  for (const l of lines) {
    if (!isKprobeNode(l) && lines.some((k) => k.block === l.block && isKprobeNode(k) && covered.has(k))) covered.add(l);
  }
  return lines.filter((l) => !covered.has(l));
}

const readme = () => fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

test('every command line of the README is run by a test', () => {
  const lines = commandLines(readme());
  expect(lines.length).toBeGreaterThan(20);
  expect(uncovered(lines, testSources()).map((l) => `README.md:${l.line}: ${l.text}`)).toEqual([]);
});

test('a kprobe-node line no test looks up is reported, and so are the lines of its block', () => {
  const text = [
    '## Somewhere', '', '```', "$ sudo kprobe-node --syscall openat --count", '```', '',
    '```', '$ kprobe-node types --kernel vfs_read', '$ cat kernel.d.ts', '```', '',
    '## Read whole', '', '```', '$ sudo kprobe-node --syscall read --count', '$ curl -s 127.0.0.1:9464/metrics', '```', '',
  ].join('\n');
  const lines = commandLines(text);
  expect(lines.map((l) => [l.section, l.block])).toEqual([['Somewhere', 0], ['Somewhere', 1], ['Somewhere', 1], ['Read whole', 2], ['Read whole', 2]]);
  const none = uncovered(lines, []);
  expect(none).toHaveLength(5);
  const some = uncovered(lines, ["readmeExample('types --kernel')", 'x = readmeBlocks("Read whole");']);
  expect(some.map((l) => l.text)).toEqual(['$ sudo kprobe-node --syscall openat --count']);
  // A prefix covers the first line it finds, as readmeExample does: not a later line it also starts.
  const first = uncovered(lines, ["readmeExample('--syscall')"]);
  expect(first.map((l) => l.text)).toEqual(lines.slice(1).map((l) => l.text));
});
