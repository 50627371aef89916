/**
 * The headline example: `kprobe-node fuse_open_common` prints a line when a
 * file is opened through FUSE (a function in a module on 6.1; newer kernels
 * build fuse in and call the function fuse_open). Runs in the test VM.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fuseOpenFunction } from '../helpers/kernel-text';

jest.setTimeout(60_000);

const cli = path.resolve(__dirname, '../../lib/cli/main.js');
let source: string;
let mountpoint: string;
let openFn: string;

beforeAll(() => {
  execFileSync('modprobe', ['fuse']);
  openFn = fuseOpenFunction();
  source = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-fuse-src-'));
  mountpoint = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-fuse-mnt-'));
  fs.writeFileSync(path.join(source, 'hello.txt'), 'hello through fuse\n');
  execFileSync('bindfs', [source, mountpoint]);
});

afterAll(() => {
  if (mountpoint) spawnSync('umount', [mountpoint]);
});

/** The CLI on the FUSE open function while `cat` reads the file through bindfs; the lines of cat's events. */
function traceCat(extra: string[]): { lines: string[]; stdout: string; stderr: string } {
  const file = path.join(mountpoint, 'hello.txt');
  const r = spawnSync(process.execPath, [cli, openFn, ...extra, '-c', `cat ${file}`], { encoding: 'utf8', timeout: 50_000 });
  expect(r.stderr).toMatch(/\d+ events, 0 lost/);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('hello through fuse');
  return { lines: r.stdout.split('\n').filter((l) => / cat \d+ /.test(l)), stdout: r.stdout, stderr: r.stderr };
}

test('kprobe-node on the FUSE open function prints a line for an open through bindfs', () => {
  const { lines } = traceCat([]);
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d cat \d+ /);
  // The prototype's arguments, decoded from BTF.
  if (openFn === 'fuse_open_common') expect(lines[0]).toMatch(/ inode=0x[0-9a-f]+ file=0x[0-9a-f]+ isdir=false$/);
  else expect(lines[0]).toMatch(/ inode=0x[0-9a-f]+ file=0x[0-9a-f]+$/);
});

test('--arg follows the file argument to the name of the file opened', () => {
  const { lines } = traceCat(['--arg', 'name=file->f_path.dentry->d_name.name']);
  expect(lines).toContainEqual(expect.stringMatching(/ cat \d+ name="hello\.txt"$/));
});
