/**
 * Run by test/host/namespaces.test.ts inside a PID namespace made by
 * `unshare -p -f --mount-proc`, as a service in a container would run:
 *
 *   node namespace-child.js self <file>            { pid: process.pid } and { tid } see its own openat of <file>
 *   node namespace-child.js outside <comm>         events of <comm>, run outside the namespace, until stdin ends
 *   node namespace-child.js nested <comm> <file>   { pid } of a process in a namespace nested in this one
 *   node namespace-child.js uprobe <exe>           attachUprobe(exe, 'kn_add', { pid }) of a child
 *
 * It prints one JSON object per line: { ready }, then what it saw.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { Probe, TraceEvent, attachSyscall, attachUprobe } from '../../lib';

const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const shown = (ev: TraceEvent) => ({ pid: ev.pid, tid: ev.tid, hostPid: ev.hostPid, hostTid: ev.hostTid, comm: ev.comm, args: ev.args });

/** Resolves with the first event that matches, within 10 s. */
function first(probe: Probe, match: (ev: TraceEvent) => boolean): Promise<TraceEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no event on ${probe.name} within 10 s (${probe.seen} seen)`)), 10000);
    probe.on('event', (ev) => {
      if (!match(ev)) return;
      clearTimeout(timer);
      resolve(ev.detach());
    });
  });
}

/** The pid, in this namespace, of the only child of `pid` (unshare -f forks one). */
function onlyChild(pid: number): number {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  if (!/^\d+$/.test(children)) throw new Error(`expected one child of ${pid}, got "${children}"`);
  return Number(children);
}

async function main(): Promise<void> {
  const [mode, a, b] = process.argv.slice(2);
  const opened = (file: string) => (ev: TraceEvent) => (ev.args as { filename?: string }).filename === file;
  switch (mode) {
    case 'self': {
      const byPid = attachSyscall('openat', { pid: process.pid });
      const byTid = attachSyscall('openat', { tid: process.pid });
      const seen = Promise.all([first(byPid, opened(a)), first(byTid, opened(a))]);
      print({ ready: true, pid: process.pid });
      fs.readFileSync(a);
      const [p, t] = await seen;
      print({ byPid: shown(p), byTid: shown(t) });
      byPid.close();
      byTid.close();
      break;
    }
    case 'outside': {
      const probe = attachSyscall('openat', { comm: a });
      probe.on('event', (ev) => print({ event: shown(ev) }));
      print({ ready: true });
      process.stdin.resume().on('end', () => probe.close());
      break;
    }
    case 'nested': {
      // sh waits in a namespace of its own, below this one, then becomes <comm>.
      const unshare = spawn('unshare', ['-p', '-f', 'sh', '-c', `read x; exec ${a} ${b}`], { stdio: ['pipe', 'ignore', 'inherit'] });
      let pid = 0;
      for (let i = 0; i < 200 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 20));
        try {
          pid = onlyChild(unshare.pid as number);
        } catch {
          // not forked yet
        }
      }
      const probe = attachSyscall('openat', { pid });
      const seen = first(probe, opened(b));
      unshare.stdin!.end('go\n');
      print({ nestedPid: pid, event: shown(await seen) });
      probe.close();
      break;
    }
    case 'uprobe': {
      const child = spawn(a, ['wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise((r) => child.stdout!.once('data', r));
      const probe = attachUprobe(a, 'kn_add', { pid: child.pid, args: ['a=arg0:s32', 'b=arg1:s32'] });
      const seen = first(probe, () => true);
      child.stdin!.end('x');
      print({ childPid: child.pid, event: shown(await seen) });
      probe.close();
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
