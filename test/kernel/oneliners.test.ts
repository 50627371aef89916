/**
 * The README's bpftrace and BCC one-liners that need kprobes (the rows
 * marked VM), run exactly as written inside the test VM, with a command to
 * watch (dd, cat, sync: nothing else runs in the VM under those names). The
 * host rows run in test/host/oneliners.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { kernelFeatures } from '../../lib';
import { OneLiner, oneLiners } from '../helpers/oneliners';
import { runCli } from '../helpers/proc';

jest.setTimeout(120_000);

/** Five reads and five writes of 16 bytes, and nothing printed. */
const DD = 'dd if=/dev/zero of=/dev/null bs=16 count=5 status=none';

let dir: string;
let file: string;

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-oneliners-'));
  file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The number in a chart's row for `label`. */
function bar(text: string, label: string): number {
  const m = new RegExp(`^${label.replace(/[[\]().]/g, '\\$&')} +(\\d+) \\|`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

const VM: Record<string, (row: OneLiner) => Promise<void>> = {
  'kprobe-node kretprobe:vfs_read --hist retval --linear 0,2000,200': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'dd', '-c', DD], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('kretprobe:vfs_read retval:');
    expect(bar(r.stdout, '[0, 200)')).toBeGreaterThanOrEqual(5);
    expect(r.stdout).toMatch(/\(estimated from linear buckets: within ±200\)/);
  },
  'kprobe-node vfs_read --latency --by comm': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'dd', '-c', DD], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('kprobe:vfs_read comm dd latency:');
    expect(r.stdout).toMatch(/, (\d+) values\n$/);
    expect(Number(/, (\d+) values\n$/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(5);
  },
  "kprobe-node vfs_open --arg 'name=path->dentry->d_name.name'": async (row) => {
    const r = await runCli([...row.argv, '--comm', 'cat', '-c', 'cat /etc/hostname'], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d cat \d+ name="hostname"$/m);
  },
  // Debian's kernel is built with gcc: its BTF does not mark filename as user memory, so the row says :ustring.
  'kprobe-node do_sys_openat2 --arg filename:ustring': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'cat', '-c', 'cat /etc/hostname'], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d cat \d+ filename="\/etc\/hostname"$/m);
  },
  "kprobe-node 'vfs_*' --count": async (row) => {
    const r = await runCli([...row.argv, '--comm', 'dd', '-c', DD], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    // Per function, in the kernel: dd's five writes of 16 bytes, and its reads (five, and the loader's).
    expect(r.stdout).toMatch(/^ +5 {2}kprobe:vfs_write$/m);
    expect(Number(/^ +(\d+) {2}kprobe:vfs_read$/m.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(5);
    expect(r.stderr).toMatch(/^kprobe-node: vfs_\*: attached \d+ of \d+ functions/m);
  },
  'kprobe-node vfs_read --latency': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'dd', '-c', DD], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('kprobe:vfs_read latency:');
    expect(Number(/, (\d+) values\n$/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(5);
  },
  "kprobe-node 'vfs_fsync*' --latency": async (row) => {
    const r = await runCli([...row.argv, '--comm', 'sync', '-c', `sync ${file}; sync ${file}; sync ${file}`], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    // One histogram per function that ran: fsync reaches vfs_fsync_range (vfs_fsync is inlined on 6.1).
    expect(r.stdout).toMatch(/^kprobe:vfs_fsync_range latency:$/m);
    expect(r.stdout).toMatch(/, 3 values\n$/);
  },
  'kprobe-node vfs_read --hist count': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'dd', '-c', DD], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('kprobe:vfs_read count:');
    expect(bar(r.stdout, '[16, 32)')).toBeGreaterThanOrEqual(5);
  },
  'kprobe-node vfs_fsync_range --stack kernel --count': async (row) => {
    const r = await runCli([...row.argv, '--comm', 'sync', '-c', `sync ${file}; sync ${file}`], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +2 {2}sync kprobe:vfs_fsync_range$/m);
    expect(r.stdout).toMatch(/^ {4}do_syscall_64\+0x[0-9a-f]+$/m);
  },
};

const rows = oneLiners();

test('every VM row of the README table has a test here, and every test a row', () => {
  expect(Object.keys(VM).sort()).toEqual(rows.filter((r) => r.where === 'VM').map((r) => r.command).sort());
});

for (const row of rows.filter((r) => r.where === 'VM')) {
  test(`${row.what}: ${row.command}`, async () => {
    const check = VM[row.command];
    expect(check).toBeDefined();
    await check(row);
  });
}
