/**
 * The kprobe side of test/host/errors.test.ts: where kprobes exist,
 * attachKprobe and attachKretprobe on vfs_read attach and deliver this
 * process's own read with its arguments and its return value.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Probe, TraceEvent, attachKprobe, attachKretprobe, kernelFeatures } from '../../lib';

jest.setTimeout(60_000);

/** A pread of `want` bytes from a file of `size` bytes: vfs_read(file, buf, want, &pos) returning `size`. */
const SIZE = 777;
const WANT = 1234;

let file: string;
beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
  file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kn-errors-')), 'f');
  fs.writeFileSync(file, 'y'.repeat(SIZE));
});

/** Our pread's events, reading until one matches (other reads of this process may come first). */
async function ourRead(probe: Probe, match: (ev: TraceEvent) => boolean): Promise<TraceEvent> {
  const seen: TraceEvent[] = [];
  probe.on('event', (ev: TraceEvent) => seen.push(ev));
  const fd = fs.openSync(file, 'r');
  try {
    for (let i = 0; i < 50; i++) {
      expect(fs.readSync(fd, Buffer.alloc(WANT), 0, WANT, 0)).toBe(SIZE);
      await new Promise((r) => setTimeout(r, 50));
      const ev = seen.find(match);
      if (ev) return ev;
    }
  } finally {
    fs.closeSync(fd);
  }
  throw new Error(`no matching event from ${probe.name}; ${seen.length} events`);
}

test("attachKprobe('vfs_read'): a kprobe, with our pread's arguments by name", async () => {
  const probe = attachKprobe('vfs_read', { pid: process.pid });
  try {
    expect(probe.kind).toBe('kprobe');
    expect(probe.strategy).toBe('kprobe vfs_read');
    const ev = await ourRead(probe, (e) => BigInt(e.args.count as bigint) === BigInt(WANT));
    expect(Object.keys(ev.args)).toEqual(['file', 'buf', 'count', 'pos']);
    expect(ev.pid).toBe(process.pid);
    expect(ev.args.file).not.toBe(0n);
  } finally {
    probe.close();
  }
});

test("attachKretprobe('vfs_read'): a kretprobe, with the bytes our pread got", async () => {
  const probe = attachKretprobe('vfs_read', { pid: process.pid });
  try {
    expect(probe.kind).toBe('kretprobe');
    const ev = await ourRead(probe, (e) => Number(e.ret) === SIZE);
    expect(ev.probe).toBe('kretprobe:vfs_read');
    expect(ev.args).toEqual({});
  } finally {
    probe.close();
  }
});
