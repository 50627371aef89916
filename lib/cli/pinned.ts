/**
 * `pinned`, `attach-pinned <name>` and `unpin <name>`: the probes pinned
 * with --pin, which keep tracing after the command that made them.
 */
import type { EventBatch } from '../core/event';
import { jsonLine } from '../format/json';
import { textLine } from '../format/text';
import { listPinned, openPinned, unpin } from '../pin';
import { runUntilDone } from './lifecycle';
import { LineWriter } from './output';
import { LossReport, say } from './report';

export function showPinned(argv: { json: boolean }): void {
  const all = listPinned();
  if (argv.json) {
    for (const p of all) process.stdout.write(JSON.stringify(p) + '\n');
    return;
  }
  if (!all.length) process.stdout.write('no pinned probes\n');
  for (const p of all) {
    const opts = Object.entries(p.options).map(([k, v]) => `--${k === 'stringSize' ? 'string-size' : k} ${JSON.stringify(v)}`);
    process.stdout.write(`${p.name}  ${p.target}${p.ret ? ' --ret' : ''}${opts.length ? ' ' + opts.join(' ') : ''}\n` +
      `    ${p.strategy}; ${p.linksPinned} of ${p.links} links pinned; since ${p.created} (pid ${p.pid})\n`);
  }
}

/** Streams a pinned probe's events until Ctrl-C or --duration; the probe stays pinned. */
export function attachPinned(argv: { name: string; json: boolean; duration?: number }): void {
  const probe = openPinned(argv.name);
  const out = new LineWriter(process.stdout, (held) => (held ? probe.pause() : probe.resume()));
  const losses = new LossReport((n) => `${n} events lost: the pinned probe's ring buffer was full`);
  probe.on('batch', (b: EventBatch) => {
    for (let i = 0; i < b.length; i++) {
      if (argv.json) jsonLine(out, b, i);
      else out.write(textLine(b, i, probe.partPlans ? b.probe(i) : undefined));
    }
  });
  probe.on('lost', (n: number) => losses.add(n));
  runUntilDone({
    duration: argv.duration,
    finish: () => {
      probe.close();
      out.flush();
      losses.end();
      say(`${probe.seen} events, ${probe.lost} lost; ${argv.name} stays pinned`);
    },
  });
}

export function removePinned(argv: { name: string }): void {
  unpin(argv.name);
}
