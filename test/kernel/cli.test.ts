/**
 * The command line on a kernel with kprobes (the test VM): the kprobe side of
 * test/host/cli.test.ts (`kprobe-node vfs_read` traces), and the --explain
 * note about inlined callers with the README's example of it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TraceEvent, attachKprobe, kernelFeatures } from '../../lib';
import { runCli } from '../helpers/proc';

jest.setTimeout(90_000);

let dir: string;
beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-kcli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('kprobe-node vfs_read: events of cat reading a file, with a field reached through pointers; --count counts them', async () => {
  const name = `kn-read-${process.pid}.txt`;
  const file = path.join(dir, name);
  fs.writeFileSync(file, 'hello\n');
  const r = await runCli(['vfs_read', '--comm', 'cat', '--json', '--arg', 'name=file->f_path.dentry->d_name.name', '--arg', 'count', '-c', `cat ${file}`], { timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TraceEvent);
  const mine = events.filter((e) => e.args.name === name);
  // cat reads until read returns 0: at least two reads of the file.
  expect(mine.length).toBeGreaterThanOrEqual(2);
  for (const e of mine) expect(e).toMatchObject({ probe: 'kprobe:vfs_read', comm: 'cat' });
  expect(r.stdout).toContain('hello');

  const c = await runCli(['vfs_read', '--comm', 'cat', '--count', '-c', `cat ${file}`], { timeoutMs: 60_000 });
  expect(c.code).toBe(0);
  const row = /^\s*(\d+)  kprobe:vfs_read cat$/m.exec(c.stdout);
  expect(row).not.toBeNull();
  expect(Number(row![1])).toBeGreaterThanOrEqual(2);
});

test('--explain says that calls from callers a function was inlined into are not seen', async () => {
  const r = await runCli(['vfs_fsync_range', '--explain', '--duration', '0.2'], { timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^kprobe-node: kprobe:vfs_fsync_range: kprobe vfs_fsync_range$/m);
  expect(r.stderr).toMatch(/^kprobe-node: {3}calls from places the compiler inlined vfs_fsync_range into do not reach a kprobe/m);
});

test("the README's case: on Debian's 6.1 fsync reaches vfs_fsync_range with vfs_fsync inlined, so vfs_fsync sees no fsync", async () => {
  const outer = attachKprobe('vfs_fsync', { pid: process.pid });
  const inner = attachKprobe('vfs_fsync_range', { pid: process.pid });
  const seen: Record<string, TraceEvent[]> = { outer: [], inner: [] };
  outer.on('event', (e: TraceEvent) => seen.outer.push(e));
  inner.on('event', (e: TraceEvent) => seen.inner.push(e));
  try {
    const fd = fs.openSync(path.join(dir, 'fsynced'), 'w');
    fs.writeSync(fd, 'x');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    for (let i = 0; i < 50 && seen.inner.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  } finally {
    // Closing delivers what the ring still holds.
    outer.close();
    inner.close();
  }
  expect(seen.inner.map((e) => e.args.datasync)).toEqual([0]);
  expect(seen.outer).toEqual([]);
  expect(outer.explain).toMatch(/inlined vfs_fsync into do not reach a kprobe/);
});
