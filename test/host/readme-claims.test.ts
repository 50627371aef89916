/**
 * README claims that had no test: the ring buffer's size and its defaults
 * (4 MiB for the CLI, 8 MiB for the API, `--ring-size`, `configure({ ringBytes })`),
 * one reader at a time for a pinned probe, and string count keys cut to 16
 * bytes. Sizes are read from the kernel (/proc/<pid>/fdinfo of the ring map),
 * not from what the library says it asked for.
 */
import { KprobeNodeError, countBy, openPinned, pinProbe, unpin } from '../../lib';
import { interrupt, ringSizes, startAttached } from '../helpers/cli';
import { collect, errorOf, waitForEvent } from '../helpers/events';
import { describeHost, distLib } from '../helpers/host';
import { Child, runCli } from '../helpers/proc';
import { Workload } from '../helpers/workload';

jest.setTimeout(30000);

const TP = 'syscalls:sys_enter_syncfs';
const MiB = 1 << 20;

/** A node process that attaches TP through the API (after `setup`), and stays. */
async function apiProcess(setup = ''): Promise<Child> {
  const script = `
    const kn = require(${JSON.stringify(distLib)});
    ${setup}
    kn.attachTracepoint(${JSON.stringify(TP)});
    console.log('attached');
    setInterval(() => {}, 1000);`;
  const child = new Child(process.execPath, ['-e', script]);
  await child.waitFor(/^attached$/m);
  return child;
}

describeHost('README claims', { root: true, tracefs: true, tools: ['gcc', 'bpftool'] }, () => {
  describe('the ring buffer', () => {
    test('the API: 8 MiB by default; configure({ ringBytes }) sets it', async () => {
      for (const [setup, bytes] of [['', 8 * MiB], ['kn.configure({ ringBytes: 1 << 16 });', 1 << 16]] as const) {
        const child = await apiProcess(setup);
        try {
          expect(ringSizes(child.pid)).toEqual([bytes]);
        } finally {
          child.kill();
        }
      }
    });

    test('the CLI: 4 MiB by default; --ring-size sets it', async () => {
      for (const [args, bytes] of [[[], 4 * MiB], [['--ring-size', String(1 << 16)], 1 << 16], [['--ring-size', String(32 * MiB)], 32 * MiB]] as const) {
        const cli = await startAttached(['--tracepoint', TP, ...args]);
        let sizes: number[];
        try {
          sizes = ringSizes(cli.pid);
        } finally {
          expect(await interrupt(cli)).toBe(0);
        }
        expect(sizes).toEqual([bytes]);
      }
    });

    test('--ring-size that is not a power of two: exit 2 with one line, naming the flag', async () => {
      const r = await runCli(['--tracepoint', TP, '--ring-size', '3000', '--duration', '0.2']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^kprobe-node: --ring-size must be a power of two[^\n]*\n$/);
    });
  });

  test('a pinned probe has one reader at a time: a second is refused while the first reads', async () => {
    const name = `test-${process.pid}-one-reader`;
    pinProbe(name, `tracepoint:${TP}`).close();
    try {
      const first = openPinned(name);
      try {
        expect(first.closed).toBe(false);
        // Two readers would share the ring's read position, each getting part of the events.
        const second = errorOf(() => openPinned(name).close());
        expect(second).toBeInstanceOf(KprobeNodeError);
        expect(second.message).toContain(name);
        // Another process is refused the same way, with one line.
        const other = await runCli(['attach-pinned', name, '--duration', '0.2']);
        expect(other.code).toBe(1);
        expect(other.stderr).toMatch(new RegExp(`^kprobe-node: [^\\n]*${name}[^\\n]*\\n$`));
      } finally {
        first.close();
      }
      // Once the first lets go, the next reader opens and reads.
      const next = openPinned(name);
      try {
        const events = collect(next);
        const w = new Workload(['syncfs', '/']);
        const pid = await w.ready();
        await w.go();
        expect((await waitForEvent(events, (e) => e.pid === pid, 'on the next reader')).comm).toBe('kn_workload');
      } finally {
        next.close();
      }
    } finally {
      unpin(name);
    }
  });

  test('counts by a string key use its first 16 bytes', async () => {
    // Relative names, so every byte is chosen here: openat fails (ENOENT), and is traced all the same.
    const same16 = 'kn_key_012345678';
    const other16 = 'kn_key_012345679'; // differs from same16 in its 16th byte only
    expect(same16).toHaveLength(16);
    const w = new Workload(['open', `${same16}_first`, `${same16}_second`, `${other16}_third`]);
    const pid = await w.ready();
    const c = countBy('syscall:openat', { by: 'filename', pid });
    try {
      expect(await w.go()).toEqual(['-2', '-2', '-2']);
    } finally {
      c.close();
    }
    expect(c.snapshot().map((e) => [e.key, e.count])).toEqual([
      [same16, 2],
      [other16, 1],
    ]);
  });

  test('the CLI counts by a string key the same way', async () => {
    const w = new Workload(['open', 'kn_cli_key_abcde_1', 'kn_cli_key_abcde_2', 'kn_cli_key_abcdX_3']);
    const pid = await w.ready();
    const cli = await startAttached(['--syscall', 'openat', '--pid', String(pid), '--count', 'by=filename', '--json']);
    try {
      await w.go();
    } finally {
      expect(await interrupt(cli)).toBe(0);
    }
    const last = JSON.parse(cli.stdout.trim().split('\n').pop() as string);
    expect(last.counts.map((e: { key: string; count: number }) => [e.key, e.count])).toEqual([
      ['kn_cli_key_abcde', 2],
      ['kn_cli_key_abcdX', 1],
    ]);
  });
});
