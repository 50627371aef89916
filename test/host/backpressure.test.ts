/**
 * The CLI's stdout is a pipe whose reader stops: the CLI stops reading the
 * ring instead of queuing lines in memory, the kernel counts what does not
 * fit, and once the reader is back every event is accounted for, printed
 * or lost, exactly.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { probeLinks } from '../helpers/cli';
import { cliPath, sleep, until } from '../helpers/proc';
import { Workload } from '../helpers/workload';

jest.setTimeout(120000);

/** Resident memory of a process, in MB. */
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

test('a stopped reader: the ring is not read, the kernel counts the loss, memory stays flat, and printed + lost = every call', async () => {
  const CALLS = 2_000_000;
  const w = new Workload(['getppid', String(CALLS)]);
  const pid = await w.ready();
  const cli = spawn(process.execPath, [cliPath, '--tracepoint', 'syscalls:sys_enter_getppid', '--pid', String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  cli.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
  try {
    // Nobody reads stdout until the workload is done: the pipe fills.
    cli.stdout!.pause();
    expect(await until(() => probeLinks(cli.pid!).length >= 1, 15000)).toBe(true);
    const before = rssMb(cli.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(cli.pid!))), 50);
    await w.go();
    await sleep(500);
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(cli.pid!));

    let lines = 0;
    cli.stdout!.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++) if (d[i] === 10) lines++;
    });
    cli.stdout!.resume();
    // The reader is back: what waited in the ring comes out, then nothing more.
    let last = -1;
    await until(() => {
      const settled = lines === last && lines > 0;
      last = lines;
      return settled;
    }, 30000, 500);
    cli.kill('SIGINT');
    expect(await exited).toBe(0);

    const m = /kprobe-node: (\d+) events, (\d+) lost/.exec(stderr);
    expect(m).not.toBeNull();
    const [printed, lost] = [Number(m![1]), Number(m![2])];
    expect(printed).toBe(lines);
    expect(printed + lost).toBe(CALLS);
    // Held back: most of the flood was the kernel's to count, and the CLI said so.
    expect(lost).toBeGreaterThan(CALLS / 2);
    expect(stderr).toMatch(/events lost: the 4 MiB ring buffer was full/);
    // Queued as text, the flood would be some 60 MB.
    expect(peak - before).toBeLessThan(25);
  } finally {
    cli.kill('SIGKILL');
    w.kill();
  }
});
