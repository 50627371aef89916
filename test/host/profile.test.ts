/**
 * CPU sampling, `profile:hz:99`: a CPU-clock perf event on each CPU runs the
 * sampling program 99 times a second on whatever runs there. A busy loop
 * (kn_spin_loop in the C helper, which spins until it has used a given
 * amount of CPU time and says how much it used) is sampled about 99 times
 * per second of CPU it gets, and its function tops the most common stacks.
 */
import * as os from 'os';
import { countBy } from '../../lib';
import { describeHost } from '../helpers/host';
import { KnSys, knsys } from '../helpers/knsys';
import { runCli } from '../helpers/proc';

jest.setTimeout(90000);

const COMM = 'kn_profile';

/** Samples expected for `cpu` seconds of CPU at `hz`, give or take 20%. */
function expectRate(samples: number, cpu: number, hz = 99): void {
  expect({ samples, low: samples >= 0.8 * hz * cpu, high: samples <= 1.2 * hz * cpu }).toEqual({ samples, low: true, high: true });
}

describeHost('CPU sampling (profile:hz:N)', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  let exe: string;
  beforeAll(() => {
    exe = knsys(COMM);
  });

  test('a busy loop of 2 s of CPU: ~198 samples (±20%), its function on top of the most common stack', async () => {
    const r = await runCli(['profile:hz:99', '--stack', 'user', '--count', '--comm', COMM, '-c', `${exe} spin 2`]);
    expect(r.code).toBe(0);
    const cpu = Number(/^cpu ([\d.]+)$/m.exec(r.stdout)?.[1]);
    expect(cpu).toBeGreaterThanOrEqual(2);
    // Each stack: "<count>  kn_profile profile:hz:99", then its frames, innermost first.
    const stacks = [...r.stdout.matchAll(/^ +(\d+) {2}kn_profile profile:hz:99\n((?: {4}.*\n?)+)/gm)].map((m) => ({ count: Number(m[1]), frames: m[2].trim().split('\n').map((f) => f.trim()) }));
    expect(stacks.length).toBeGreaterThan(0);
    expectRate(stacks.reduce((n, s) => n + s.count, 0), cpu);
    expect(stacks[0].frames[0]).toMatch(new RegExp(`^kn_spin_loop\\+0x[0-9a-f]+ \\(.*/${COMM}\\)$`));
    expect(stacks[0].frames).toContainEqual(expect.stringMatching(/^main\+0x/));
  });

  test('one busy loop per CPU: each sampled ~99 times per second of CPU it got, counted by pid in the kernel', async () => {
    const n = Math.min(os.cpus().length, 4);
    const loops = Array.from({ length: n }, () => new KnSys(exe, ['spin', '1.5']));
    try {
      const pids = await Promise.all(loops.map((l) => l.ready()));
      const samples = countBy('profile:hz:99', { by: 'pid', comm: COMM });
      let outputs: string[];
      try {
        outputs = await Promise.all(loops.map((l) => l.go()));
      } finally {
        samples.close();
      }
      const byPid = new Map(samples.snapshot().map((e) => [e.key, e.count]));
      pids.forEach((pid, i) => expectRate(byPid.get(pid) ?? 0, Number(/cpu ([\d.]+)/.exec(outputs[i])?.[1])));
    } finally {
      for (const l of loops) l.kill();
    }
  });

  test('a pid filter (-p): only that process is sampled', async () => {
    const mine = new KnSys(exe, ['spin', '1']);
    const other = new KnSys(exe, ['spin', '1']);
    try {
      const [pid] = await Promise.all([mine.ready(), other.ready()]);
      const samples = countBy('profile:hz:99', { by: 'pid', pid });
      try {
        await Promise.all([mine.go(), other.go()]);
      } finally {
        samples.close();
      }
      expect(samples.snapshot().map((e) => e.key)).toEqual([pid]);
      expectRate(samples.snapshot()[0].count, 1);
    } finally {
      mine.kill();
      other.kill();
    }
  });

  test('kernel stacks of the samples taken in the kernel; --top limits the stacks shown', async () => {
    const r = await runCli(['profile:hz:99', '--stack', 'kernel', '--count', '--include-self', '--duration', '1']);
    expect(r.code).toBe(0);
    // Kernel frames are symbolized from kallsyms: function+offset, no file (idle CPUs and syscalls are in the kernel).
    expect(r.stdout).toMatch(/^ {4}[a-z_][\w.]*\+0x[0-9a-f]+$/m);
    // Samples in the kernel with more than two distinct stacks, however busy the machine is: a
    // process that reads and writes a byte at a time (and idle CPUs).
    const top = await runCli(['profile:hz:99', '--stack', 'kernel', '--count', '--include-self', '--top', '2', '-c', 'dd if=/dev/zero of=/dev/null bs=1 count=400000']);
    const heads = top.stdout.match(/^ +\d+ {2}\S+ profile:hz:99$/gm) ?? [];
    expect(heads).toHaveLength(2);
  });

  test('bad rates are refused before anything is attached', async () => {
    for (const [target, msg] of [
      ['profile:hz:0', /profile:hz:<samples a second>/],
      ['profile:hz:10000000', /allows at most \d+ \(kernel\.perf_event_max_sample_rate\)/],
    ] as const) {
      const r = await runCli([target, '--count']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const args = await runCli(['profile:hz:99', '--arg', 'x']);
    expect(args.code).toBe(2);
    expect(args.stderr).toMatch(/has no arguments/);
  });
});
