/**
 * The shape of lib/, held to what the README's "Layout" says: each folder is
 * a layer, a module requires only modules of its own layer or below, and no
 * run-time import cycle exists anywhere. Read from the compiled JavaScript,
 * where type-only imports are gone (those may point anywhere).
 */
import * as fs from 'fs';
import * as path from 'path';
import { distLib } from '../helpers/host';

/** Lowest first. A module of one layer may require modules of its own layer or of earlier ones. */
const LAYERS: string[][] = [
  ['errors.js'],
  ['sys'],
  ['btf'],
  ['fetch'],
  ['core'],
  ['stacks', 'attach'],
  ['summary', 'inspect', 'pin.js', 'object', 'typegen'],
  ['api.js', 'format'],
  ['metrics'],
  ['cli', 'index.js'],
];

/** Files over ~400 lines, each one cohesive thing; anything else that large should be split. */
const LARGE_BUT_COHESIVE: Record<string, string> = {
  'btf/reader.ts': 'the BTF reader: one binary format, one class',
  'fetch/resolve.ts': 'resolving one expression grammar against BTF',
};

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith('.js') ? [p] : [];
  });
}

function layerOf(file: string): number {
  const rel = path.relative(distLib, file).split(path.sep);
  const i = LAYERS.findIndex((names) => names.includes(rel[0]));
  if (i < 0) throw new Error(`${rel.join('/')} is in no layer: add its folder to LAYERS (and to the README's Layout)`);
  return i;
}

/** Relative requires of one compiled module, resolved to files. */
function requires(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const hit = [`${base}.js`, path.join(base, 'index.js'), base].find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    if (!hit) throw new Error(`${file} requires ${m[1]}, which does not exist`);
    out.push(hit);
  }
  return out;
}

const files = jsFiles(distLib);
const graph = new Map(files.map((f) => [f, requires(f)]));
const rel = (f: string) => path.relative(distLib, f);

test('every module requires only its own layer or the layers below', () => {
  const wrong: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) if (layerOf(to) > layerOf(from)) wrong.push(`${rel(from)} -> ${rel(to)}`);
  }
  expect(wrong).toEqual([]);
});

test('no run-time import cycle', () => {
  // Tarjan's strongly connected components: any component of more than one module is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(rel(w));
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  expect(cycles).toEqual([]);
});

test('the check sees requires at all (the layers hold real edges)', () => {
  const edges = [...graph.values()].reduce((n, tos) => n + tos.length, 0);
  expect(edges).toBeGreaterThan(50);
  expect(graph.get(path.join(distLib, 'api.js'))).toContain(path.join(distLib, 'attach', 'index.js'));
});

test('no source file in lib/ is over ~400 lines unless it is one cohesive thing', () => {
  const src = path.resolve(distLib, '..', '..', 'lib');
  const long = files
    .map((f) => path.relative(distLib, f).replace(/\.js$/, '.ts'))
    .filter((f) => fs.existsSync(path.join(src, f)) && fs.readFileSync(path.join(src, f), 'utf8').split('\n').length > 420)
    .filter((f) => !(f in LARGE_BUT_COHESIVE));
  expect(long).toEqual([]);
});
