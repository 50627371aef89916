/**
 * The README's kprobe command line (test/host/readme-commands.test.ts runs
 * the others, which need no kprobes): vfs_fsync_range with the name of the
 * file reached through pointers, and datasync.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { kernelFeatures } from '../../lib';
import { interrupt, startAttached } from '../helpers/cli';
import { until } from '../helpers/proc';
import { readmeExample } from '../helpers/readme';

jest.setTimeout(90_000);

let dir: string;
beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-kreadme-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("vfs_fsync_range --arg 'name=file->...' --arg datasync: an fsync shows the file's name and datasync=0", async () => {
  const example = readmeExample('vfs_fsync_range --arg');
  expect(example.args).toEqual(['vfs_fsync_range', '--arg', 'name=file->f_path.dentry->d_name.name', '--arg', 'datasync']);
  const cli = await startAttached(example.args);
  const name = `kn-fsync-${process.pid}`;
  const line = new RegExp(`^\\d\\d:\\d\\d:\\d\\d node ${process.pid} name="${name}" datasync=0$`, 'm');
  const fd = fs.openSync(path.join(dir, name), 'w');
  try {
    fs.writeSync(fd, 'x');
    fs.fsyncSync(fd);
    expect(await until(() => line.test(cli.stdout), 20_000)).toBe(true);
  } finally {
    fs.closeSync(fd);
  }
  expect(await interrupt(cli)).toBe(0);
  expect(cli.stdout).toMatch(line);
  expect(cli.stderr).toMatch(/kprobe-node: [1-9]\d* events, 0 lost/);
});
