/**
 * scripts/test's closing line cannot hide a failure: the jest reporter it adds
 * (scripts/jest-totals.js) counts test files that fail outside any test, and
 * its counting (scripts/test --count) turns a missing summary, a non-zero exit
 * with a clean summary (a VM that timed out after jest finished) and, under
 * CI, a skipped test into failures.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../helpers/host';
import { run } from '../helpers/proc';

jest.setTimeout(60_000);

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-runner-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the reporter counts a file that fails to load and a failing afterAll, which jest\'s "Tests:" line leaves out', async () => {
  const project = path.join(dir, 'project');
  fs.mkdirSync(project);
  const files: Record<string, string> = {
    'jest.config.js': "module.exports = { testEnvironment: 'node' };",
    'mixed.test.js': "test('passes', () => {}); test('fails', () => { expect(1).toBe(2); }); test.skip('skipped', () => {});",
    'load.test.js': "require('./does-not-exist');",
    'hook.test.js': "afterAll(() => { throw new Error('hook'); }); test('passes', () => {});",
    'skipped.test.js': "describe.skip('all skipped', () => { test('one', () => {}); });",
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(project, name), text);
  const jest = path.join(repoRoot, 'node_modules', '.bin', 'jest');
  const reporter = path.join(repoRoot, 'scripts', 'jest-totals.js');
  const r = await run(jest, ['--ci', '--config', path.join(project, 'jest.config.js'), '--reporters', reporter], { env: { ...process.env, CI: 'true' } });
  expect(r.code).toBe(1);
  expect(r.stdout.split('\n').filter((l) => l.startsWith('jest-totals:'))).toEqual([
    'jest-totals: passed=2 failed=1 skipped=2 suite-errors=2 skipped-suites=1',
  ]);
});

/** scripts/test --count on a log holding `log`, with exit status `status`: its two lines. */
async function count(log: string, status: number, ci: boolean): Promise<string[]> {
  const file = path.join(dir, `log-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, log);
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const r = await run('bash', [path.join(repoRoot, 'scripts', 'test'), '--count', 'run', file, String(status)], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trimEnd().split('\n');
}

const clean = 'PASS x\njest-totals: passed=7 failed=0 skipped=0 suite-errors=0 skipped-suites=0\n';

test.each([
  ['a clean run', clean, 0, false, '7 passed, 0 failed', /^-- run: 7 passed, 0 failed$/],
  ['failing tests', 'jest-totals: passed=5 failed=2 skipped=0 suite-errors=0 skipped-suites=0\n', 1, false, '5 passed, 2 failed', /^-- run: 5 passed, 2 failed$/],
  ['a file that failed to load', 'jest-totals: passed=5 failed=0 skipped=0 suite-errors=1 skipped-suites=0\n', 1, false, '5 passed, 1 failed', /1 test file\(s\) failed outside any test/],
  ['a VM that timed out after the summary', clean, 124, false, '7 passed, 1 failed', /the VM timed out after jest's summary/],
  ['a non-zero exit with a clean summary', clean, 1, false, '7 passed, 1 failed', /exit status 1; with no failure in the summary/],
  ['no summary at all (the VM died)', 'Tests: 7 passed, 7 total\n', 125, false, '0 passed, 1 failed', /no test summary \(exit status 125\)/],
  ['a VM that timed out before the summary', 'PASS x\n', 124, false, '0 passed, 1 failed', /the VM timed out; no test summary/],
  ['skipped tests, CI unset', 'jest-totals: passed=7 failed=0 skipped=2 suite-errors=0 skipped-suites=1\n', 0, false, '7 passed, 0 failed', /; 2 skipped$/],
  ['skipped tests under CI', 'jest-totals: passed=7 failed=0 skipped=2 suite-errors=0 skipped-suites=1\n', 0, true, '7 passed, 2 failed', /2 skipped: CI is set, so they count as failures/],
])('%s', async (_name, log, status, ci, last, note) => {
  const [line, closing] = await count(log, status, ci);
  expect(closing).toBe(last);
  expect(line).toMatch(note);
});
