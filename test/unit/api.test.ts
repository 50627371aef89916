/**
 * The public API does not change by accident: every name lib/index.ts
 * exports, with its declaration as the compiler emits it (dist/lib/**.d.ts),
 * is held to test/unit/public-api.txt. A deliberate change is made visible in
 * review by regenerating that file: UPDATE_API=1 npx jest --selectProjects unit api
 */
import * as fs from 'fs';
import * as path from 'path';
import { distLib, repoRoot } from '../helpers/host';

const SNAPSHOT = path.join(repoRoot, 'test', 'unit', 'public-api.txt');

/** The statement that starts at `at`: up to its `;` or the `}` that closes its body, at depth 0. */
function statementAt(text: string, at: number): string {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '(' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ')' || c === ']' || (c === '>' && text[i - 1] !== '=')) {
      depth--;
      if (depth === 0 && c === '}' && /^\s*(\n|$)/.test(text.slice(i + 1, i + 2)) && /^export (declare )?(abstract )?(class|interface|enum)\b/.test(text.slice(at))) {
        return text.slice(at, i + 1);
      }
    } else if (c === ';' && depth === 0) return text.slice(at, i + 1);
  }
  return text.slice(at);
}

/** Every declaration of `name` exported by the .d.ts module `file`, following re-exports. */
function declarations(file: string, name: string, seen = new Set<string>()): string[] {
  const key = `${file}#${name}`;
  if (seen.has(key)) return [];
  seen.add(key);
  const text = fs.readFileSync(file, 'utf8');
  const own = new RegExp(`^export (?:declare )?(?:abstract )?(?:function|class|interface|type|const|enum) ${name}\\b`, 'gm');
  const found = [...text.matchAll(own)].map((m) => statementAt(text, m.index ?? 0));
  if (found.length) return found;
  for (const m of text.matchAll(/^export (?:type )?\{([^}]*)\} from '([^']+)';/gm)) {
    for (const part of m[1].split(',').map((s) => s.trim().replace(/^type /, ''))) {
      const [orig, alias] = part.split(/\s+as\s+/);
      if ((alias ?? orig) !== name) continue;
      const target = path.resolve(path.dirname(file), m[2]);
      const next = [`${target}.d.ts`, path.join(target, 'index.d.ts')].find((p) => fs.existsSync(p));
      if (next) return declarations(next, orig, seen);
    }
  }
  return [];
}

function publicApi(): string {
  const index = path.join(distLib, 'index.d.ts');
  const text = fs.readFileSync(index, 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/^export (?:type )?\{([^}]*)\} from '[^']+';/gm)) {
    for (const part of m[1].split(',').map((s) => s.trim().replace(/^type /, '')).filter(Boolean)) names.add(part.split(/\s+as\s+/).pop() as string);
  }
  const out: string[] = [];
  for (const name of [...names].sort()) {
    const decls = declarations(index, name);
    if (!decls.length) throw new Error(`cannot find the declaration of the exported name ${name}`);
    out.push(`// ${name}\n${decls.join('\n')}\n`);
  }
  return out.join('\n');
}

test('the exported names and their declarations are the ones test/unit/public-api.txt records', () => {
  const now = publicApi();
  if (process.env.UPDATE_API) fs.writeFileSync(SNAPSHOT, now);
  const recorded = fs.existsSync(SNAPSHOT) ? fs.readFileSync(SNAPSHOT, 'utf8') : '';
  // On a difference: if it is meant, regenerate the file (see the header) and review its diff.
  expect(now).toBe(recorded);
});

test('the public API exports no internal helper', () => {
  const text = fs.readFileSync(path.join(distLib, 'index.d.ts'), 'utf8');
  expect(text).not.toMatch(/export \*/);
  for (const internal of ['closest', 'editDistance', 'Session', 'native', 'encodeConfig', 'toTypedError']) {
    expect(text).not.toMatch(new RegExp(`\\b${internal}\\b`));
  }
});
