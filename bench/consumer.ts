/**
 * kprobe-node as a benchmark contender: streams every getppid(2) to a
 * JavaScript listener that reads each event's pid.
 *
 *   node dist/bench/consumer.js [--kprobe=FN --arg=EXPR] [--control] [target_pid expect [value]]
 *
 * With --kprobe, it traces the kernel function FN instead (a kprobe, so only
 * where the kernel has kprobes), fetching the one argument expression EXPR,
 * e.g. `--kprobe=vfs_read --arg=file->f_inode->i_sb->s_magic`; the listener
 * reads each event's pid and that argument.
 *
 * With --batch, the listener takes each batch of events (`probe.on('batch')`)
 * and reads the pid of each record by index: no object per event.
 *
 * With --latency, it records for each event of target_pid how long after
 * the probe fired it was in hand (CLOCK_MONOTONIC both), and adds
 * `latency_ms p50 <f> p99 <f> max <f>` to the done line.
 *
 * With --object=PATH, it loads that BPF object (bench/c/object.bpf.c) with
 * openObject() instead, and reads its records through ringBuffer(): the same
 * getppid events, from a user's own program.
 *
 * With --control, it attaches only when told, by commands on stdin, one a
 * line: "attach" (answers "attached"), "detach" (answers "detached"); the end
 * of stdin ends it. bench/c/handwritten.c --control does the same, so that a
 * benchmark can alternate tracers under one traced process.
 *
 * Prints "ready" once attached (with --control: at once). Exits when `expect`
 * events of `target_pid` (whose argument equals `value`, hexadecimal, when
 * given) were delivered, or on SIGINT/SIGTERM, printing one line:
 *   done seen <all events> target <events of target_pid> lost <n> last_ns <CLOCK_MONOTONIC> sum <n> matched <n> other <n> hwm_kb <peak RSS>
 * (bench/c/consumer.c and bench/c/handwritten.c print the same first fields;
 * matched/other: the target's events with and without `value`).
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import { attachKprobe, attachSyscall, openObject } from '../lib/index';
import type { BpfObject, EventBatch, Probe } from '../lib/index';

const options = new Map<string, string>();
const positional: string[] = [];
for (const a of process.argv.slice(2)) {
  const m = /^--([a-z]+)(?:=(.*))?$/s.exec(a);
  if (m) options.set(m[1], m[2] ?? '');
  else positional.push(a);
}
for (const k of options.keys()) {
  if (!['kprobe', 'arg', 'control', 'batch', 'latency', 'object'].includes(k)) throw new Error(`unknown option --${k}`);
}
const fn = options.get('kprobe');
const expr = options.get('arg');
if ((fn === undefined) !== (expr === undefined)) throw new Error('--kprobe and --arg go together');
const control = options.has('control');
const batched = options.has('batch');
const latencies: number[] | undefined = options.has('latency') ? [] : undefined;
const objectPath = options.get('object');

const targetPid = Number(positional[0] ?? 0);
const expect = Number(positional[1] ?? 0);
const want = positional[2] !== undefined ? BigInt(`0x${positional[2]}`) : undefined;

let sum = 0;
let seen = 0;
let target = 0;
let matched = 0;
let other = 0;
let lastNs = 0n;
/** losses of the probes closed so far */
let lostBefore = 0;

/** What delivers the events: a probe, or the ring buffer of a user's object (--object). */
type Source = EventEmitter & { close(): void; lost: number };
let probe: Source | undefined;
let object: BpfObject | undefined;
let lost = 0;

/** The user-object contender: the object's ring buffer; its records have a pid as events do. */
function attachObject(file: string): Source {
  object = openObject(file).load();
  object.attach('on_getppid');
  return object.ringBuffer('events', 'struct ppid_event', { lost: 'dropped' });
}

function attach(): void {
  const p = objectPath !== undefined ? attachObject(objectPath) : fn !== undefined ? attachKprobe(fn, { args: [`value=${expr}`] }) : attachSyscall('getppid');
  lost = 0;
  p.on('lost', (n: number) => {
    lost += n;
  });
  if (batched) {
    p.on('batch', (b: EventBatch) => {
      let mine = 0;
      for (let i = 0; i < b.length; i++) {
        const pid = b.pid(i);
        sum += pid;
        if (pid === targetPid) mine++;
      }
      seen += b.length;
      if (mine) {
        target += mine;
        other += mine;
        lastNs = process.hrtime.bigint();
        if (expect && target >= expect) setImmediate(finish);
      }
    });
  } else {
    p.on('event', (ev: { pid: number; ns?: bigint; args?: unknown }) => {
      sum += ev.pid;
      seen++;
      if (ev.pid === targetPid) {
        target++;
        lastNs = process.hrtime.bigint();
        if (latencies && ev.ns !== undefined) latencies.push(Number(lastNs - ev.ns) / 1e6);
        if (want !== undefined && (ev.args as { value?: unknown }).value === want) matched++;
        else other++;
        if (expect && (want !== undefined ? matched : target) >= expect) setImmediate(finish);
      }
    });
  }
  probe = p;
}

function detach(): void {
  if (!probe) return;
  probe.close(); // delivers what is still in the ring, reports late losses
  lostBefore += Math.max(lost, probe.lost);
  probe = undefined;
  object?.close();
  object = undefined;
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  detach();
  const hwm = /^VmHWM:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'NaN';
  let extra = '';
  if (latencies) {
    const xs = latencies.sort((a, b) => a - b);
    const at = (q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(3) : 'NaN');
    extra = ` latency_ms p50 ${at(0.5)} p99 ${at(0.99)} max ${at(1)}`;
  }
  process.stdout.write(`done seen ${seen} target ${target} lost ${lostBefore} last_ns ${lastNs} sum ${sum} matched ${matched} other ${other} hwm_kb ${hwm}${extra}\n`, () => process.exit(0));
}

process.on('SIGINT', finish);
process.on('SIGTERM', finish);
if (control) {
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    const lines = (buffered + d).split('\n');
    buffered = lines.pop()!;
    for (const l of lines) {
      if (l === 'attach') {
        if (!probe) attach();
        process.stdout.write('attached\n');
      } else if (l === 'detach') {
        detach();
        process.stdout.write('detached\n');
      } else if (l) {
        process.stdout.write('unknown command\n');
      }
    }
  });
  process.stdin.on('end', finish);
} else {
  attach();
}
process.stdout.write('ready\n');
