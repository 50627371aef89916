/**
 * Run by test/host/lifecycle.test.ts in its own node process, so that memory,
 * fds and the session's maps are this process's alone. Prints one JSON line.
 *
 *   lifecycle-child slow N        a listener that blocks 200 ms per batch while N getppid events arrive
 *   lifecycle-child iterator N    an async iterator nobody reads while N events arrive
 *   lifecycle-child many EXE      100 uprobes on EXE's kn_add, one run of EXE
 *   lifecycle-child cycles N      N attach/close cycles of a tracepoint probe
 */
import * as fs from 'fs';
import { TraceEvent, attachTracepoint, attachUprobe } from '../../lib';
import { Session } from '../../lib/core/session';
import { Uprog } from './uprog';
import { Workload } from './workload';

const rssKb = () => Number(/^VmRSS:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]);
const fds = () => fs.readdirSync('/proc/self/fd').length;

/** Map fds of this process by BPF map type (27: ring buffer). */
function mapTypes(): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      out.push(Number(/^map_type:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]));
    } catch {
      // closed in between
    }
  }
  return out;
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a consumer that cannot keep up
  }
}

async function slow(n: number): Promise<object> {
  const w = new Workload(['getppid', String(n)]);
  const pid = await w.ready();
  const probe = attachTracepoint('syscalls:sys_enter_getppid', { pid });
  const rssBefore = rssKb();
  let inBatch = false;
  let batches = 0;
  let announced = 0;
  let peak = rssBefore;
  probe.on('event', () => {
    if (inBatch) return;
    // The first event of each batch: block, as a slow consumer would.
    inBatch = true;
    batches++;
    busy(200);
    peak = Math.max(peak, rssKb());
    process.nextTick(() => (inBatch = false));
  });
  probe.on('lost', (k: number) => (announced += k));
  await w.go();
  probe.close();
  return { n, seen: probe.seen, lost: probe.lost, announced, batches, rssBefore, peak: Math.max(peak, rssKb()) };
}

async function iterator(n: number): Promise<object> {
  const w = new Workload(['getppid', String(n)]);
  const pid = await w.ready();
  const probe = attachTracepoint('syscalls:sys_enter_getppid', { pid });
  let kernelLost = 0;
  probe.on('lost', (k: number) => (kernelLost += k));
  const it = probe[Symbol.asyncIterator]();
  const rssBefore = rssKb();
  await w.go();
  Session.get().flush();
  const rssAfter = rssKb();
  const seen = probe.seen;
  const lostBeforeClose = probe.lost;
  probe.close();
  let queued = 0;
  for (let r = await it.next(); !r.done; r = await it.next()) queued++;
  return { n, seen, kernelLost, lost: lostBeforeClose, queued, rssBefore, rssAfter };
}

async function many(exe: string): Promise<object> {
  const u = new Uprog(exe);
  const pid = await u.ready();
  const counts = new Array<number>(100).fill(0);
  const probes = counts.map((_, i) => {
    const p = attachUprobe(exe, 'kn_add', { pid, args: ['a=arg0:s32'] });
    p.on('event', (ev: TraceEvent) => {
      if (ev.pid === pid && ev.args.a === 20) counts[i]++;
    });
    return p;
  });
  const ids = new Set(probes.map((p) => p.id));
  const rings = mapTypes().filter((t) => t === 27).length;
  await u.go();
  const end = Date.now() + 3000;
  while (counts.some((c) => c === 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const p of probes) p.close();
  return { probes: probes.length, distinctIds: ids.size, rings, counts };
}

async function cycles(n: number): Promise<object> {
  const cycle = () => attachTracepoint('syscalls:sys_enter_syncfs', { args: ['fd'] }).close();
  for (let i = 0; i < 20; i++) cycle(); // warm up: session, caches, JIT
  global.gc?.();
  const fdsBefore = fds();
  const rssBefore = rssKb();
  const links = Session.get().info().links;
  const start = Date.now();
  for (let i = 0; i < n; i++) cycle();
  global.gc?.();
  return { n, ms: Date.now() - start, fdsBefore, fdsAfter: fds(), rssBefore, rssAfter: rssKb(), linksBefore: links, linksAfter: Session.get().info().links };
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  const run: Record<string, () => Promise<object>> = {
    slow: () => slow(Number(arg)),
    iterator: () => iterator(Number(arg)),
    many: () => many(arg),
    cycles: () => cycles(Number(arg)),
  };
  const out = await run[mode]();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
