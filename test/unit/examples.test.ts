/**
 * The examples as they are committed: their generated typings are the ones
 * `make example-types` writes from the objects `make` builds, and the
 * README's openObject() snippet compiles (tsc --strict) against them.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ObjectFile } from '../../lib/object/parse';
import { objectTypes } from '../../lib/typegen';
import { repoRoot } from '../helpers/host';
import { tempDir } from '../helpers/objects';

jest.setTimeout(60_000);

const EXAMPLES = path.join(repoRoot, 'examples');

test('each example\'s typings are what kprobe-node types writes from its object', () => {
  const names = fs.readdirSync(EXAMPLES).filter((n) => fs.existsSync(path.join(EXAMPLES, n, `${n}.bpf.c`)));
  expect(names).toContain('biolatency');
  for (const name of names) {
    const object = `dist/examples/${name}/${name}.bpf.o`;
    const typings = `examples/${name}/${name}.bpf.d.ts`;
    const want = objectTypes(ObjectFile.read(path.join(repoRoot, object)), { command: `kprobe-node types ${object} -o ${typings}` });
    // On a difference: run `make example-types` and commit the result.
    expect(fs.readFileSync(path.join(repoRoot, typings), 'utf8')).toBe(want);
  }
});

test("the README's openObject() example compiles against the example's typings", () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Your own BPF programs'));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(snippet).toContain("openObject<BiolatencySpec>('biolatency.bpf.o'");
  const dir = tempDir();
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'kprobe-node'));
    fs.copyFileSync(path.join(EXAMPLES, 'biolatency', 'biolatency.bpf.d.ts'), path.join(dir, 'biolatency.bpf.d.ts'));
    fs.writeFileSync(path.join(dir, 'readme.ts'), `${snippet}\nexport {};\n`);
    const r = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--noEmit', '--target', 'ES2022', '--module', 'commonjs',
        '--moduleResolution', 'bundler', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), 'readme.ts'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect((r.stdout + r.stderr).trim()).toBe('');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
