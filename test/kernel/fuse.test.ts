/**
 * The headline example: `kprobe-node fuse_open_common` prints a line when a
 * file is opened through FUSE (a function in a module). Runs in the test VM.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

jest.setTimeout(60_000);

const cli = path.resolve(__dirname, '../../lib/cli/main.js');
let source: string;
let mountpoint: string;

beforeAll(() => {
  execFileSync('modprobe', ['fuse']);
  source = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-fuse-src-'));
  mountpoint = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-fuse-mnt-'));
  fs.writeFileSync(path.join(source, 'hello.txt'), 'hello through fuse\n');
  execFileSync('bindfs', [source, mountpoint]);
});

afterAll(() => {
  if (mountpoint) spawnSync('umount', [mountpoint]);
});

test('kprobe-node fuse_open_common prints a line for an open through bindfs', () => {
  const file = path.join(mountpoint, 'hello.txt');
  const r = spawnSync(process.execPath, [cli, 'fuse_open_common', '-c', `cat ${file}`], { encoding: 'utf8', timeout: 50_000 });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('hello through fuse');
  const lines = r.stdout.split('\n').filter((l) => / cat \d+ /.test(l));
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d cat \d+ /);
  expect(lines[0]).toMatch(/isdir=false/);
  expect(r.stderr).toMatch(/\d+ events, 0 lost/);
});
