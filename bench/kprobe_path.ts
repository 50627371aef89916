/**
 * The kprobe path benchmark: what one hit of kprobe-node's generic kprobe
 * costs with a 3-hop field path, against a hand-written CO-RE kprobe that
 * reads the same field (bench/c/handwritten.bpf.c).
 *
 * The traced program (bench/c/read_loop.c) read(2)s one byte of /dev/zero in
 * a loop, so each call hits vfs_read once, and both tracers emit every hit
 * with file->f_inode->i_sb->s_magic to their reader: the C one drains a ring
 * buffer, kprobe-node's hands the events to a JavaScript listener
 * (bench/consumer.ts --kprobe). Per hit, medians over runs that alternate
 * (untraced, hand-written, kprobe-node, both, untraced, ...):
 *   - the loop's extra ns per call over the untraced loop;
 *   - the BPF programs' own run time per hit (kernel.bpf_stats_enabled),
 *     with both attached so that they run on the same hits.
 * Both readers must deliver every one of the loop's reads with the s_magic
 * statfs(2) gives for /dev/zero. --profile adds pairs with and without the
 * field path, for what the path itself costs in each.
 *
 * Kprobes exist only in the VM (scripts/vmtest, Debian's stock kernel under
 * qemu TCG): on a kernel without them, kprobePath() boots the VM, runs this
 * file there as a program (`node dist/bench/kprobe_path.js`), and takes its
 * rows and verdicts back. Emulated timings: only the ratios mean something.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Row, Verdict, fmt, kprobesAvailable, log, median, spread } from './report';

export interface KprobePathContext {
  rows: Row[];
  verdicts: Verdict[];
  notes: string[];
  quick: boolean;
  /** Also pair each program with its variant without the field path (what the path costs). */
  profile: boolean;
  /** The repo (sources, scripts/vmtest). */
  root: string;
  /** The snapshot of the build under test (bench/run.ts): dist/ lives there. */
  snap: string;
  /** .cache/bench: the C helpers are built here. */
  cache: string;
}

const FUNCTION = 'vfs_read';
const FIELD = 'file->f_inode->i_sb->s_magic';
const FILE = '/dev/zero';
const TARGET = 1.3;
const JSON_TAG = 'KPROBE_PATH_JSON ';

/** Loop reads per measured run, and rounds. */
function params(quick: boolean): { calls: number; rounds: number } {
  // an even number of rounds: paired programs run in each order equally often
  return quick ? { calls: 100_000, rounds: 8 } : { calls: 100_000, rounds: 16 };
}

/** The built helpers, in <cache>/kprobe_path. */
function helpers(cache: string): { dir: string; loop: string; handwritten: string } {
  const dir = path.join(cache, 'kprobe_path');
  return { dir, loop: path.join(dir, 'read_loop'), handwritten: path.join(dir, 'handwritten') };
}

// ---------------------------------------------------------------------------

function range(xs: number[]): string {
  return xs.length ? (Math.min(...xs) === Math.max(...xs) ? fmt(xs[0]) : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`) : 'n/a';
}

/** A child whose stdout lines can be waited for. */
class Child {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  exitCode: number | null = null;
  private readonly exited: Promise<void>;
  private wake: () => void = () => {};

  constructor(cmd: string, args: string[], cpus?: string, env?: NodeJS.ProcessEnv) {
    const [c, a] = cpus !== undefined ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
    this.child = spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (this.stderr.length < 20000) this.stderr += d;
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number) => {
        if (partial) this.lines.push(partial);
        partial = '';
        this.exitCode = code;
        this.wake();
        resolve();
      };
      this.child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
      this.child.on('error', (e) => {
        this.stderr += String(e);
        done(127);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The `nth` (from 0) output line matching `re`; throws on exit or timeout. */
  async waitLine(re: RegExp, timeoutMs: number, what: string, nth = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.map((l) => l.match(re)).filter((m): m is RegExpMatchArray => m !== null);
      if (found.length > nth) return found[nth];
      const why = this.stderr.trim().slice(-600);
      if (this.exitCode !== null) throw new Error(`${what}: exited (${this.exitCode}) before printing ${re}: ${why}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no ${re} within ${timeoutMs} ms: ${why}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Signals the process and waits for it, SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals, graceMs = 30000): Promise<void> {
    if (this.exitCode !== null) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------------------
// building the C helpers (on the host, before the VM boots: the guest reuses them)

function newer(out: string, inputs: string[]): boolean {
  if (!fs.existsSync(out)) return false;
  const t = fs.statSync(out).mtimeMs;
  return inputs.every((i) => fs.statSync(i).mtimeMs <= t);
}

/**
 * Builds read_loop and the hand-written tool: vmlinux.h from this kernel's
 * BTF (bpftool), the BPF object (clang), its skeleton (bpftool) and the
 * loader (cc, with the system's libbpf). Skipped when up to date.
 */
export function buildKprobePathHelpers(root: string, cache: string): void {
  const h = helpers(cache);
  const src = path.join(root, 'bench', 'c');
  fs.mkdirSync(h.dir, { recursive: true });
  const cc = spawnSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' }).status === 0 ? 'gcc' : 'clang';
  const run = (cmd: string, args: string[], out?: string) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', out ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error})`);
    if (out) fs.writeFileSync(out, r.stdout);
  };
  const loopSrc = path.join(src, 'read_loop.c');
  if (!newer(h.loop, [loopSrc, path.join(src, 'timed_loop.h'), path.join(src, 'clock.h')])) run(cc, ['-O2', '-Wall', '-o', h.loop, loopSrc]);

  const vmlinux = path.join(h.dir, 'vmlinux.h');
  if (!fs.existsSync(vmlinux)) run('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], vmlinux);
  const bpfSrc = path.join(src, 'handwritten.bpf.c');
  const header = path.join(src, 'handwritten.h');
  const obj = path.join(h.dir, 'handwritten.bpf.o');
  if (!newer(obj, [bpfSrc, header, vmlinux])) {
    const arch = { x64: 'x86', arm64: 'arm64' }[process.arch as string] ?? process.arch;
    run('clang', ['-target', 'bpf', '-O2', '-g', '-Wall', `-D__TARGET_ARCH_${arch}`, `-I${h.dir}`, `-I${src}`, '-c', bpfSrc, '-o', obj]);
  }
  const skel = path.join(h.dir, 'handwritten.skel.h');
  if (!newer(skel, [obj])) run('bpftool', ['gen', 'skeleton', obj, 'name', 'handwritten'], skel);
  const userSrc = path.join(src, 'handwritten.c');
  if (!newer(h.handwritten, [userSrc, header, skel, path.join(src, 'batch_drain.h'), path.join(src, 'clock.h')])) {
    run(cc, ['-O2', '-Wall', `-I${h.dir}`, `-I${src}`, '-o', h.handwritten, userSrc, '-lbpf', '-lelf', '-lz']);
  }
}

// ---------------------------------------------------------------------------
// measuring (where the kernel has kprobes)

/** A reader run with --control: loaded at start, attached and detached on command. */
interface Reader {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** It reads no field: the loop's records count as "other", not "matched". */
  noPath?: boolean;
}

interface Running {
  child: Child;
  attached: number;
  detached: number;
}

/**
 * One step of a round: a run of the loop with these readers attached. A
 * paired phase (two readers) runs with kernel.bpf_stats_enabled, for their
 * programs' run time on the same hits; a single one without, for the loop's
 * time per call (bpf_stats adds two clock reads to every hit).
 */
interface Phase {
  name: string;
  readers: Reader[];
}

interface PhaseRun {
  ns: number;
  /** paired phases: per reader, BPF run time per hit and hits */
  perHit: Map<Reader, { ns: number; hits: number }>;
  /** the readers in the order they were attached */
  order: Reader[];
}

/** run_time_ns and run_cnt summed over the BPF programs a process holds. */
function progStats(pid: number): { timeNs: number; cnt: number } {
  const byId = new Map<number, { timeNs: number; cnt: number }>();
  const dir = `/proc/${pid}/fdinfo`;
  for (const fd of fs.readdirSync(dir)) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, fd), 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^prog_id:\s*(\d+)/m.exec(text);
    const t = /^run_time_ns:\s*(\d+)/m.exec(text);
    const n = /^run_cnt:\s*(\d+)/m.exec(text);
    // A link's fdinfo names its program too, without the statistics.
    if (id && t && n) byId.set(Number(id[1]), { timeNs: Number(t[1]), cnt: Number(n[1]) });
  }
  let timeNs = 0;
  let cnt = 0;
  for (const s of byId.values()) {
    timeNs += s.timeNs;
    cnt += s.cnt;
  }
  return { timeNs, cnt };
}

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/**
 * The ratio of b's to a's time per hit over paired runs, balanced for order:
 * which of two programs on one kprobe was attached first changes their times
 * (the ratio moves by ~15% between the orders under emulation), so the pair
 * swaps places every round and the ratio is the geometric mean of the two
 * orders' medians.
 */
function pairedRatio(runs: PhaseRun[], a: Reader, b: Reader): { ratio: number; aFirst: number; bFirst: number; all: number[] } {
  const r = (x: PhaseRun) => x.perHit.get(b)!.ns / x.perHit.get(a)!.ns;
  const aFirst = median(runs.filter((x) => x.order[0] === a).map(r));
  const bFirst = median(runs.filter((x) => x.order[0] === b).map(r));
  return { ratio: Math.sqrt(aFirst * bFirst), aFirst, bFirst, all: runs.map(r) };
}

/**
 * Measures here (a kernel with kprobes) and adds the rows and verdicts.
 *
 * One read_loop process and every reader live through the whole benchmark;
 * the readers are loaded once and attached and detached around each phase,
 * so that the contenders alternate run by run, a fraction of a second each,
 * instead of process by process: under emulation, on a shared host, speed
 * drifts by a factor of two within seconds.
 */
async function measure(ctx: KprobePathContext): Promise<void> {
  const { calls, rounds } = params(ctx.quick);
  const h = helpers(ctx.cache);
  for (const f of [h.loop, h.handwritten]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: the helpers are built on the host first`);
  const consumer = path.join(ctx.snap, 'dist', 'bench', 'consumer.js');
  const want = fs.statfsSync(FILE).type.toString(16);
  const ncpu = os.cpus().length;
  const cpus = { loop: '0', tracer: ncpu > 1 ? `1-${ncpu - 1}` : '0' };
  const kernel = os.release();
  const emulated = process.env.KPROBE_NODE_VM === '1'; // set by scripts/vmtest
  const where = emulated ? `VM ${kernel}, emulated` : kernel;

  // Rings that hold a run's records (64 bytes each with the ring's header), the same size for
  // both: a reader slower than the loop (JavaScript under emulation) must not turn hits into
  // cheaper losses. A detach delivers the backlog before it answers, so runs do not pile up.
  let ring = 8 << 20;
  while (ring < calls * 64) ring *= 2;
  const hwArgs = ['--control', `--ring-bytes=${ring}`];
  const knArgs = [consumer, '--control', `--kprobe=${FUNCTION}`];
  const knEnv = { KPROBE_NODE_RING_BYTES: String(ring) };
  const HW: Reader = { name: 'hand-written CO-RE kprobe + C reader', cmd: h.handwritten, args: hwArgs };
  const KN: Reader = { name: `kprobe-node kprobe, args ['${FIELD}'] → JS listener`, cmd: process.execPath, args: [...knArgs, `--arg=${FIELD}`], env: knEnv };
  // Without the field path: the hand-written one skips the read; kprobe-node fetches `file` itself (a register, no dereference).
  const HW_NOPATH: Reader = { name: 'hand-written, no field read', cmd: h.handwritten, args: [...hwArgs, '--no-path'], noPath: true };
  const KN_NOPATH: Reader = { name: `kprobe-node, args ['file']`, cmd: process.execPath, args: [...knArgs, '--arg=file'], env: knEnv, noPath: true };
  const readers = [HW, KN, ...(ctx.profile ? [HW_NOPATH, KN_NOPATH] : [])];
  const short = (r: Reader) => ({ [HW.name]: 'hand-written', [KN.name]: 'kprobe-node', [HW_NOPATH.name]: 'hand-written, no field read', [KN_NOPATH.name]: `kprobe-node, args ['file']` })[r.name];

  const UNTRACED: Phase = { name: 'untraced', readers: [] };
  const HW_PHASE: Phase = { name: HW.name, readers: [HW] };
  const KN_PHASE: Phase = { name: KN.name, readers: [KN] };
  const PAIRED: Phase = { name: 'hand-written and kprobe-node on the same hits', readers: [HW, KN] };
  const phases: Phase[] = [UNTRACED, HW_PHASE, KN_PHASE, PAIRED];
  // --profile: what the field path costs each, with and without it on the same hits.
  const HW_PATH: Phase = { name: 'hand-written with and without the field read', readers: [HW, HW_NOPATH] };
  const KN_PATH: Phase = { name: `kprobe-node with the path and with args ['file']`, readers: [KN, KN_NOPATH] };
  if (ctx.profile) phases.push(HW_PATH, KN_PATH);

  log(`\n== kprobe path (${where}): ${fmt(calls)} read(2)s of ${FILE} per run, ${rounds} rounds, kprobe on ${FUNCTION} reading ${FIELD} (expect 0x${want}), rings of ${ring >> 20} MiB`);
  const loop = new Child(h.loop, [String(calls), 'wait', FILE], cpus.loop);
  const running = new Map<Reader, Running>();
  const done = new Map<Reader, { seen: number; target: number; lost: number; matched: number; other: number }>();
  const results = new Map<Phase, PhaseRun[]>(phases.map((p) => [p, []]));
  let loopRuns = 0;
  try {
    const pid = Number((await loop.waitLine(/^pid (\d+)$/, 30000, 'read_loop'))[1]);
    for (const r of readers) {
      const child = new Child(r.cmd, [...r.args, String(pid), '0', want], cpus.tracer, r.env);
      running.set(r, { child, attached: 0, detached: 0 });
      await child.waitLine(/^ready$/, 120000, r.name);
    }
    const command = async (r: Reader, what: 'attach' | 'detach') => {
      const run = running.get(r)!;
      run.child.child.stdin!.write(`${what}\n`);
      const n = what === 'attach' ? run.attached++ : run.detached++;
      // the first attach of kprobe-node loads its object: seconds under emulation
      await run.child.waitLine(what === 'attach' ? /^attached$/ : /^detached$/, 120000, `${r.name}: ${what}`, n);
    };

    for (let round = 0; round < rounds; round++) {
      for (const phase of phases) {
        const paired = phase.readers.length > 1;
        const order = round % 2 ? [...phase.readers].reverse() : phase.readers;
        for (const r of order) await command(r, 'attach');
        if (paired) fs.writeFileSync(STATS, '1');
        const before = phase.readers.map((r) => progStats(running.get(r)!.child.pid));
        loop.child.stdin!.write('go\n');
        const ns = Number((await loop.waitLine(/^ns_per_call ([\d.]+) /, 600000, 'read_loop', loopRuns++))[1]);
        const after = phase.readers.map((r) => progStats(running.get(r)!.child.pid));
        if (paired) fs.writeFileSync(STATS, '0');
        for (const r of order) await command(r, 'detach');
        const perHit = new Map<Reader, { ns: number; hits: number }>();
        phase.readers.forEach((r, i) => {
          const hits = after[i].cnt - before[i].cnt;
          if (paired) perHit.set(r, { ns: hits ? (after[i].timeNs - before[i].timeNs) / hits : NaN, hits });
        });
        results.get(phase)!.push({ ns, perHit, order });
        const hit = [...perHit].map(([r, x]) => `${short(r)} ${fmt(x.ns, 1)}`).join(', ');
        log(`  round ${round + 1} ${phase.name.padEnd(56)} ${fmt(ns, 1).padStart(8)} ns/call${hit ? ` (with bpf_stats); BPF ns per hit: ${hit}; ${short(order[0])} attached first` : ''}`);
      }
    }
    loop.child.stdin!.end();
    for (const [r, run] of running) {
      run.child.child.stdin!.end(); // a reader prints its totals at the end of its commands
      const d = await run.child.waitLine(/^done seen (\d+) target (\d+) lost (\d+) .* matched (\d+) other (\d+)/, 120000, r.name);
      done.set(r, { seen: Number(d[1]), target: Number(d[2]), lost: Number(d[3]), matched: Number(d[4]), other: Number(d[5]) });
    }
  } finally {
    fs.writeFileSync(STATS, '0');
    await loop.stop('SIGKILL');
    for (const run of running.values()) await run.child.stop('SIGINT');
  }

  // The loop's time per call, the tracers alone.
  const bench = `kprobe path (${where}): ns per read(2) of ${FILE}`;
  const nsOf = (p: Phase) => results.get(p)!.map((r) => r.ns);
  const base = median(nsOf(UNTRACED));
  const extra = (p: Phase) => median(nsOf(p)) - base;
  for (const p of [UNTRACED, HW_PHASE, KN_PHASE]) {
    const xs = nsOf(p);
    ctx.rows.push({ bench, contender: p.name, median: fmt(median(xs), 1), spread: spread(xs, 1), extra: p === UNTRACED ? '' : `+${fmt(extra(p), 1)}` });
  }

  // The programs' run time per hit, in pairs on the same hits.
  const statsBench = `kprobe path (${where}): BPF program run time per hit (ns, bpf_stats, paired)`;
  const pairs: Array<[Phase, Reader, Reader]> = [[PAIRED, HW, KN]];
  if (ctx.profile) pairs.push([HW_PATH, HW, HW_NOPATH], [KN_PATH, KN, KN_NOPATH]);
  for (const [p, a, b] of pairs) {
    const runs = results.get(p)!;
    for (const r of [a, b]) {
      const xs = runs.map((x) => x.perHit.get(r)!.ns);
      const hits = runs.map((x) => x.perHit.get(r)!.hits);
      ctx.rows.push({ bench: statsBench, contender: `${short(r)} (in: ${p.name})`, median: fmt(median(xs), 1), spread: spread(xs, 1), note: `hits per run ${range(hits)}` });
    }
    const q = pairedRatio(runs, a, b);
    const diff = median(runs.map((x) => x.perHit.get(b)!.ns - x.perHit.get(a)!.ns));
    ctx.rows[ctx.rows.length - 1].extra = `× ${fmt(q.ratio, 2)}`;
    ctx.rows[ctx.rows.length - 1].note += `; / ${short(a)} on the same hits: ${fmt(q.aFirst, 2)} when ${short(a)} was attached first, ${fmt(q.bFirst, 2)} when second; difference ${fmt(diff, 1)} ns`;
  }

  // Every reader got each of the loop's reads while it was attached.
  const complete = new Map<Reader, boolean>();
  for (const r of readers) {
    const d = done.get(r)!;
    const expected = phases.filter((p) => p.readers.includes(r)).length * rounds * calls;
    const got = r.noPath ? d.other : d.matched;
    complete.set(r, got >= expected && d.lost === 0);
    ctx.rows.push({
      bench: `kprobe path (${where}): the loop's reads delivered while attached`,
      contender: r.name,
      median: `${fmt(got)} of ${fmt(expected)}`,
      spread: '',
      note: `${r.noPath ? 'records of the loop' : `with s_magic 0x${want}`}; lost ${fmt(d.lost)}; records in all ${fmt(d.seen)}, of the loop ${fmt(d.target)}`,
    });
  }

  const ratio = extra(KN_PHASE) / extra(HW_PHASE);
  ctx.verdicts.push({
    what: `kprobe path (${where}): kprobe-node extra per call / hand-written extra`,
    value: fmt(ratio, 2),
    target: `≤ ${fmt(TARGET, 2)}`,
    pass: Number.isFinite(ratio) ? ratio <= TARGET : undefined,
    note: `kprobe-node +${fmt(extra(KN_PHASE), 1)} ns, hand-written +${fmt(extra(HW_PHASE), 1)} ns per call (untraced ${fmt(base, 1)} ns); includes the kprobe's own entry cost, the same for both`,
  });
  const q = pairedRatio(results.get(PAIRED)!, HW, KN);
  ctx.verdicts.push({
    what: `kprobe path (${where}): kprobe-node BPF run time per hit / hand-written, on the same hits`,
    value: fmt(q.ratio, 2),
    target: `≤ ${fmt(TARGET, 2)}`,
    pass: Number.isFinite(q.ratio) ? q.ratio <= TARGET : undefined,
    note: `${fmt(q.aFirst, 2)} with the hand-written program attached first, ${fmt(q.bFirst, 2)} with kprobe-node's (geometric mean of the two); per run ${spread(q.all, 2)}`,
  });
  ctx.verdicts.push({
    what: `kprobe path (${where}): every loop read delivered with s_magic 0x${want}, none lost`,
    value: [HW, KN].map((r) => `${short(r)}: ${fmt(r.noPath ? done.get(r)!.other : done.get(r)!.matched)}, lost ${fmt(done.get(r)!.lost)}`).join('; '),
    target: 'all, 0 lost',
    pass: [HW, KN].every((r) => complete.get(r)),
  });
  ctx.notes.push(
    `kprobe path: ${emulated ? `measured in a qemu TCG guest (scripts/vmtest) running Debian's kernel ${kernel} with ${ncpu} vCPUs; the timings are emulated, so only the ratios mean something` : `measured on kernel ${kernel}`}. ` +
      `One read_loop process throughout; the tracers, loaded once, are attached and detached around each run, alternating run by run. ` +
      `The BPF run times come from runs with both programs attached (bpf_stats on, which adds two clock reads to each), in both orders.`,
  );
}

// ---------------------------------------------------------------------------
// on a kernel without kprobes: in the VM

/** The guest's result, as printed by this file run as a program. */
interface GuestResult {
  kernel: string;
  rows: Row[];
  verdicts: Verdict[];
  notes: string[];
  failure?: string;
}

async function inVm(ctx: KprobePathContext): Promise<void> {
  const vmtest = path.join(ctx.root, 'scripts', 'vmtest');
  const script = path.join(ctx.snap, 'dist', 'bench', 'kprobe_path.js');
  const timeout = ctx.quick ? 300 : 1200;
  const vmLog = path.join(ctx.cache, 'kprobe_path-vm.log');
  const args = [script, ...(ctx.quick ? ['--quick'] : []), ...(ctx.profile ? ['--profile'] : [])];
  const cmd = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  log(`\n== kprobe path: this kernel has no kprobes; booting the VM (scripts/vmtest, log in ${path.relative(ctx.root, vmLog)})`);
  const t0 = Date.now();
  const vm = spawn(vmtest, ['--cmd', cmd, '--timeout', String(timeout), '--log', vmLog], { cwd: ctx.root, stdio: ['ignore', 'pipe', 'pipe'] });
  let result: GuestResult | undefined;
  let partial = '';
  vm.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      if (l.startsWith(JSON_TAG)) result = JSON.parse(l.slice(JSON_TAG.length)) as GuestResult;
      else log(`  vm| ${l}`);
    }
  });
  vm.stderr!.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d.replace(/^(?=.)/gm, '  vm| ')));
  const code = await new Promise<number>((resolve) => vm.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  if (partial.startsWith(JSON_TAG)) result = JSON.parse(partial.slice(JSON_TAG.length)) as GuestResult;
  const secs = (Date.now() - t0) / 1000;
  if (!result) throw new Error(`the VM run gave no result (scripts/vmtest exited ${code} after ${fmt(secs)} s; see ${path.relative(ctx.root, vmLog)})`);
  ctx.rows.push(...result.rows);
  ctx.verdicts.push(...result.verdicts);
  ctx.notes.push(...result.notes.map((n) => `${n} VM kernel: ${result!.kernel}; the VM run took ${fmt(secs)} s including boot.`));
  if (result.failure) throw new Error(`in the VM: ${result.failure}`);
}

/**
 * The benchmark as bench/run.ts runs it: here where the kernel has kprobes,
 * else in the VM; `--no-vm` skips the VM.
 */
export async function kprobePath(ctx: KprobePathContext): Promise<void> {
  if (kprobesAvailable()) {
    buildKprobePathHelpers(ctx.root, ctx.cache);
    return measure(ctx);
  }
  const bench = 'kprobe path (VM)';
  if (process.argv.includes('--no-vm')) {
    ctx.rows.push({ bench, contender: 'hand-written / kprobe-node', median: 'skipped', spread: '', note: '--no-vm: this kernel has no kprobes' });
    ctx.notes.push('kprobe path: skipped (--no-vm); run it with `node dist/bench/run.js --only=kprobe`, which boots the VM.');
    log('\n== kprobe path: skipped (--no-vm)');
    return;
  }
  for (const cmd of ['qemu-system-x86_64', 'clang', 'bpftool']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status !== 0) {
      ctx.rows.push({ bench, contender: 'hand-written / kprobe-node', median: 'skipped', spread: '', note: `${cmd} is not installed (scripts/vmtest --help)` });
      log(`\n== kprobe path: skipped, ${cmd} is not installed`);
      return;
    }
  }
  buildKprobePathHelpers(ctx.root, ctx.cache);
  await inVm(ctx);
}

/** Run as a program (in the VM): measures, prints the result as one JSON line for the host. */
async function guestMain(): Promise<void> {
  const argv = process.argv.slice(2);
  const snap = path.resolve(__dirname, '..', '..');
  const ctx: KprobePathContext = {
    rows: [],
    verdicts: [],
    notes: [],
    quick: argv.includes('--quick'),
    profile: argv.includes('--profile'),
    root: snap,
    // the snapshot is <cache>/snapshot; a plain dist/ build looks in the repo's .cache/bench
    cache: path.basename(snap) === 'snapshot' ? path.dirname(snap) : path.join(snap, '.cache', 'bench'),
    snap,
  };
  let failure: string | undefined;
  try {
    if (process.getuid?.() !== 0) throw new Error('tracing the kernel needs root');
    if (!kprobesAvailable()) throw new Error('this kernel has no kprobes (no /sys/bus/event_source/devices/kprobe)');
    await measure(ctx);
  } catch (e) {
    failure = (e as Error).message;
    log(`kprobe path failed: ${(e as Error).stack ?? e}`);
  }
  const out: GuestResult = { kernel: `${os.release()} (${os.version()})`, rows: ctx.rows, verdicts: ctx.verdicts, notes: ctx.notes, ...(failure ? { failure } : {}) };
  process.stdout.write(JSON_TAG + JSON.stringify(out) + '\n');
  if (failure) process.exitCode = 1;
}

if (require.main === module) {
  guestMain().catch((e) => {
    log(`kprobe path: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
