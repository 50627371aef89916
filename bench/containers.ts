/**
 * What containers cost in the kernel, per traced call: the getppid loop
 * (bench/c/getppid_loop.c) counted in the kernel by countBy() (bench/counter.ts)
 *
 *   untraced                       the loop alone
 *   host tracer                    the reference: tracer and loop on the host
 *   tracer in a PID namespace      both in one namespace (a container): every
 *                                  hit looks up the task's pid in the tracer's namespace
 *   cgroup filter                  on the host, { cgroup } of the loop's cgroup
 *
 * run alternately, round by round, on this machine at once; it prints each
 * one's ns per call (median over the rounds) and the extra cost of each
 * traced contender over the host tracer's, as ratios; and the BPF program's
 * own run time per hit (kernel.bpf_stats_enabled, on for the whole run, so
 * every traced contender pays for the statistics alike), which a busy
 * machine disturbs far less than the loop's wall time.
 *
 *   node dist/bench/containers.js [rounds] [calls]
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fmt, log, median, spread } from './report';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, '.cache', 'bench');
const LOOP = path.join(CACHE, 'getppid_loop');
const COUNTER = path.join(ROOT, 'dist', 'bench', 'counter.js');
const [ROUNDS, CALLS] = [Number(process.argv[2] ?? 7), Number(process.argv[3] ?? 2_000_000)];

function cgroup2Mount(): string {
  const line = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 mount');
  return line.split(' ')[1];
}

/** Lines of a child's stdout, waitable. */
function lines(child: ChildProcess): (re: RegExp) => Promise<RegExpMatchArray> {
  let out = '';
  const waiting: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    waiting.splice(0).forEach((w) => w());
  });
  return async (re) => {
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`exited before ${re}: ${out}`);
      await new Promise<void>((r) => {
        waiting.push(r);
        setTimeout(r, 200);
      });
    }
  };
}

interface Contender {
  name: string;
  /** The command that runs the loop (and the tracer, where they share a namespace). */
  loop: (n: number) => string[];
  /** A tracer started apart from the loop; resolves once it is attached. */
  tracer?: () => string[];
  /** The loop's command starts the tracer too: wait for its `ready` on the same output. */
  tracerInside?: boolean;
  /** A cgroup the loop is moved into before it starts. */
  cgroup?: string;
}

/** The node process among the descendants of `pid` (the counter the loop's namespace runs). */
function nodeBelow(pid: number): number | undefined {
  for (const child of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)) {
    if (fs.readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'node') return child;
    const below = nodeBelow(child);
    if (below) return below;
  }
  return undefined;
}

/** Run time and run count, summed, of the BPF programs process `pid` holds. */
function progStats(pid: number): { ns: number; cnt: number } {
  const ids = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  const all = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as Array<{ id: number; run_time_ns?: number; run_cnt?: number }>;
  return all.filter((p) => ids.has(p.id)).reduce((a, p) => ({ ns: a.ns + (p.run_time_ns ?? 0), cnt: a.cnt + (p.run_cnt ?? 0) }), { ns: 0, cnt: 0 });
}

/** One run: the loop's ns per call, and the tracer's BPF run time per hit. */
async function runOnce(c: Contender): Promise<{ perCall: number; perHit: number }> {
  const [cmd, ...args] = c.loop(CALLS);
  const loop = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waitLoop = lines(loop);
  let tracer: ChildProcess | undefined;
  try {
    await waitLoop(/^pid \d+$/m);
    if (c.cgroup) fs.writeFileSync(path.join(c.cgroup, 'cgroup.procs'), String(loop.pid));
    if (c.tracer) {
      const [t, ...targs] = c.tracer();
      tracer = spawn(t, targs, { stdio: ['ignore', 'pipe', 'inherit'] });
      await lines(tracer)(/^ready$/m);
    } else if (c.tracerInside) {
      await waitLoop(/^ready$/m);
    }
    await new Promise((r) => setTimeout(r, 150));
    // The tracer: started apart, or the node process in the loop's namespace.
    const holder = tracer?.pid ?? (c.tracerInside ? nodeBelow(loop.pid as number) : undefined);
    const before = holder ? progStats(holder) : undefined;
    loop.stdin!.write('go\n');
    const perCall = Number((await waitLoop(/^ns_per_call ([\d.]+)/m))[1]);
    const after = holder ? progStats(holder) : undefined;
    const perHit = before && after ? (after.ns - before.ns) / (after.cnt - before.cnt) : NaN;
    return { perCall, perHit };
  } finally {
    loop.kill('SIGKILL');
    tracer?.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(CACHE, { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-o', LOOP, path.join(ROOT, 'bench', 'c', 'getppid_loop.c')], { stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(cgroup2Mount(), 'kn-bench-'));
  const pin = (cpu: number, cmd: string[]) => ['taskset', '-c', String(cpu % os.cpus().length), ...cmd];
  const loopCmd = (n: number) => pin(0, [LOOP, String(n), 'wait']);
  const counter = (extra: string[] = []) => pin(1, [process.execPath, COUNTER, ...extra]);
  const contenders: Contender[] = [
    { name: 'untraced', loop: loopCmd },
    { name: 'host tracer', loop: loopCmd, tracer: () => counter() },
    {
      name: 'tracer in a PID namespace',
      // Both in one new namespace, as in a container: the counter in the background, the loop in the foreground.
      loop: (n) => ['unshare', '-p', '-f', '--kill-child', '--mount-proc', 'sh', '-c', `${counter().join(' ')} & exec ${loopCmd(n).join(' ')}`],
      tracerInside: true,
    },
    { name: 'cgroup filter', loop: loopCmd, tracer: () => counter(['--cgroup', dir]), cgroup: dir },
  ];
  const results = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const hits = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const stats = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of contenders) {
        const { perCall, perHit } = await runOnce(c);
        results.get(c.name)!.push(perCall);
        hits.get(c.name)!.push(perHit);
      }
      log(`round ${r + 1}/${ROUNDS}: ${contenders.map((c) => `${c.name} ${fmt(results.get(c.name)![r], 1)} (${fmt(hits.get(c.name)![r], 1)} per hit)`).join(', ')}`);
    }
  } finally {
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', stats);
    for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      fs.writeFileSync(path.join(cgroup2Mount(), 'cgroup.procs'), pid);
    }
    fs.rmdirSync(dir);
  }
  const m = (name: string) => median(results.get(name)!);
  // Per hit: the median and the least of the rounds that measured it (a busy machine only ever adds to it).
  const finite = (name: string) => hits.get(name)!.filter(Number.isFinite);
  const h = (name: string) => median(finite(name));
  const least = (name: string) => Math.min(...finite(name));
  const base = m('untraced');
  const host = m('host tracer') - base;
  const out = [
    `kernel ${os.release()}, ${os.cpus()[0]?.model}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}; medians of ${ROUNDS} rounds of ${fmt(CALLS)} getppid calls`,
    `  ${'contender'.padEnd(26)} ${'ns/call'.padStart(9)}  ${'extra / host'.padStart(12)}  ${'BPF ns/hit'.padStart(10)}  ${'/ host'.padStart(6)}  ${'least'.padStart(6)}  ${'/ host'.padStart(6)}`,
  ];
  for (const c of contenders) {
    const traced = c.name !== 'untraced';
    const extra = traced ? fmt((m(c.name) - base) / host, 2) : '';
    const perHit = traced ? fmt(h(c.name), 1) : '';
    const hitRatio = traced ? fmt(h(c.name) / h('host tracer'), 2) : '';
    const low = traced ? fmt(least(c.name), 1) : '';
    const lowRatio = traced ? fmt(least(c.name) / least('host tracer'), 2) : '';
    out.push(`  ${c.name.padEnd(26)} ${fmt(m(c.name), 1).padStart(9)}  ${extra.padStart(12)}  ${perHit.padStart(10)}  ${hitRatio.padStart(6)}  ${low.padStart(6)}  ${lowRatio.padStart(6)}`);
  }
  out.push(`  (ns/call spread: ${contenders.map((c) => `${c.name} ${spread(results.get(c.name)!, 1)}`).join('; ')})`);
  out.push(`  (BPF ns/hit spread: ${contenders.slice(1).map((c) => `${c.name} ${spread(finite(c.name), 1)}`).join('; ')})`);
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
