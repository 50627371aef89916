/**
 * Run by test/host/service.test.ts in a process of its own (a listener's
 * exception must reach this process's 'uncaughtException', and the ring's
 * size is fixed when a process first loads the BPF object):
 *
 *   node service-child.js lost <cat> <file>             a 4 KiB ring overflows: what kprobe-node:lost publishes
 *   node service-child.js listener-error <cat> <file>   a listener throws: what surfaces, and where
 *   node service-child.js rejection <cat> <file>        an async listener rejects, with EventEmitter.captureRejections
 *   node service-child.js using <cat> <file>            `using` a probe and a summary (Node's own Symbol.dispose)
 *
 * `cat` is a copy of cat under a name of its own (the comm traced); it
 * prints one JSON object.
 */
import { execFileSync } from 'child_process';
import { subscribe } from 'diagnostics_channel';
import * as events from 'events';
import { Probe, attachSyscall, configure, countBy } from '../../lib';
import { Session } from '../../lib/core/session';

const [mode, cat, file] = process.argv.slice(2);
const comm = cat.slice(cat.lastIndexOf('/') + 1);
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
/** Runs cat on `file` `n` times in one process; the event loop is blocked meanwhile. */
const runCat = (n = 1) => execFileSync(cat, Array(n).fill(file), { stdio: 'ignore' });
const after = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  switch (mode) {
    case 'lost': {
      configure({ ringBytes: 4096 });
      const published: number[] = [];
      subscribe('kprobe-node:lost', (m) => published.push((m as { count: number }).count));
      const probe = attachSyscall('openat', { comm });
      let emitted = 0;
      probe.on('lost', (n) => (emitted += n));
      probe.on('event', () => undefined);
      // Blocked here, nothing drains while 2000 files are opened: the ring overflows.
      runCat(2000);
      await after(300);
      probe.close();
      print({ published: published.reduce((a, b) => a + b, 0), emitted, lost: probe.lost, seen: probe.seen });
      break;
    }
    case 'listener-error': {
      const uncaught: string[] = [];
      process.on('uncaughtException', (e) => uncaught.push(e.message));
      const throwing = attachSyscall('openat', { comm });
      const other = attachSyscall('openat', { comm });
      let calls = 0;
      let seen = 0;
      throwing.on('event', () => {
        calls++;
        throw new Error('listener failed');
      });
      other.on('event', () => seen++);
      runCat();
      await after(300); // one batch, delivered
      const afterFirst = { calls, seen, uncaught: uncaught.length };
      runCat();
      await after(300); // the probe still delivers
      throwing.close();
      other.close();
      print({ afterFirst, calls, seen, uncaught, closed: throwing.closed });
      break;
    }
    case 'rejection': {
      events.EventEmitter.captureRejections = true;
      const probe: Probe = attachSyscall('openat', { comm });
      const errors: string[] = [];
      probe.on('error', (e) => errors.push(e.message));
      probe.on('event', async () => {
        throw new Error('async listener failed');
      });
      runCat();
      await after(300);
      probe.close();
      print({ errors: [...new Set(errors)], seen: probe.seen });
      break;
    }
    case 'using': {
      let probe: Probe;
      let counter: ReturnType<typeof countBy>;
      let open: boolean;
      {
        using p = attachSyscall('openat', { comm });
        using c = countBy('syscall:openat', { comm });
        [probe, counter, open] = [p, c, !p.closed && !c.closed];
        runCat();
      }
      print({ open, probeClosed: probe.closed, counterClosed: counter.closed, counted: counter.snapshot().total, links: Session.get().info().links });
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
