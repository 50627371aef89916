/**
 * Newline-delimited JSON, one object per event or per summary reading: what
 * log shippers and `jq` take. 64-bit values become numbers when they fit
 * exactly, strings otherwise; byte arrays become hex.
 */
import { EventBatch, wallMs } from '../core/event';
import type { LineSink } from './sink';
import type { StackShow } from './stack';
import type { CountSnapshot, HistogramSnapshot, StackSnapshot } from '../summary';

/** JSON.stringify's replacer for every line we print. */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('hex');
  }
  return value;
}

// The pieces of a line that repeat are made once, as bytes: the time (for every record of a
// millisecond), the probe's name, and the task (for a thread's records in a row).
let timeMs = NaN;
let timeBytes = Buffer.alloc(0);

/** `{"time":"<ISO time>","ns":"` of a CLOCK_MONOTONIC ns value. */
function timePiece(monotonicNs: number): Buffer {
  const ms = wallMs(monotonicNs);
  if (ms !== timeMs) {
    timeMs = ms;
    timeBytes = Buffer.from(`{"time":"${new Date(ms).toISOString()}","ns":"`);
  }
  return timeBytes;
}

const probePieces = new Map<string, Buffer>();
const PIECES_LIMIT = 4096;

/** `","probe":"<name>","cpu":`. */
function probePiece(name: string): Buffer {
  let piece = probePieces.get(name);
  if (piece === undefined) {
    if (probePieces.size >= PIECES_LIMIT) probePieces.clear();
    probePieces.set(name, (piece = Buffer.from(`","probe":${JSON.stringify(name)},"cpu":`)));
  }
  return piece;
}

// Made again each second too: a container made since may have become known.
const lastTask = { pid: -1, tid: -1, uid: -1, hostPid: -1, hostTid: -1, cgroupId: -1, comm: '', second: -1 };
let lastTaskBytes = Buffer.alloc(0);

/** `,"pid":..,"tid":..,"uid":..,"comm":..,"cgroupId":..`, hostPid and hostTid where they differ, containerId; then `,"args":{`. */
function taskPiece(batch: EventBatch, i: number, ns: number): Buffer {
  const second = Math.floor(ns / 1e9);
  const pid = batch.pid(i);
  const tid = batch.tid(i);
  const uid = batch.uid(i);
  const hostPid = batch.hostPid(i);
  const hostTid = batch.hostTid(i);
  const cgroupId = batch.cgroupId(i);
  const comm = batch.comm(i);
  const t = lastTask;
  if (pid === t.pid && tid === t.tid && uid === t.uid && hostPid === t.hostPid && hostTid === t.hostTid && cgroupId === t.cgroupId && comm === t.comm && second === t.second) {
    return lastTaskBytes;
  }
  Object.assign(t, { pid, tid, uid, hostPid, hostTid, cgroupId, comm, second });
  let text = `,"pid":${pid},"tid":${tid},"uid":${uid},"comm":${JSON.stringify(comm)},"cgroupId":${cgroupId}`;
  if (hostPid !== pid || hostTid !== tid) text += `,"hostPid":${hostPid},"hostTid":${hostTid}`;
  const container = batch.containerId(i);
  if (container !== undefined) text += `,"containerId":"${container}"`;
  return (lastTaskBytes = Buffer.from(text + ',"args":{'));
}

const NO_ARGS_END = Buffer.from('}}');

/** One value as JSON, by the rules of jsonValue, without the generic stringify. */
function jsonScalar(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? String(v) : `"${v}"`;
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      if (Buffer.isBuffer(v)) return `"${v.toString('hex')}"`;
      return v === undefined ? 'null' : JSON.stringify(v, jsonValue);
  }
}

/**
 * Record `i` of a batch as one JSON object, written to `out`: time (ISO), ns,
 * probe, cpu, pid, tid, uid, comm, cgroupId; hostPid and hostTid where they
 * differ from pid and tid (a tracer in a container); containerId where the
 * cgroup names a container; args, and ret (return probes) and faults (when
 * any); with `stacks`, the record's stacks symbolized, as kernelStack and
 * userStack (arrays of frames as text, innermost first).
 */
export function jsonLine(out: LineSink, batch: EventBatch, i: number, stacks?: StackShow): void {
  const ns = batch.nsNumber(i);
  out.bytes(timePiece(ns));
  // Doubles are exact below 2^53 ns (104 days of uptime).
  if (ns < 2 ** 53) out.int(ns);
  else out.text(String(batch.ns(i)));
  out.bytes(probePiece(batch.probe(i)));
  out.int(batch.cpu(i));
  out.bytes(taskPiece(batch, i, ns));
  const plans = batch.plans(i);
  if (!plans.length && !stacks) {
    out.bytes(NO_ARGS_END);
    out.end();
    return;
  }
  const p = batch.payload(i);
  let rest = '';
  for (const plan of plans) {
    if (plan.fetch.hidden || plan.isReturn) continue;
    rest += `${rest ? ',' : ''}${JSON.stringify(plan.name)}:${jsonScalar(p.args[plan.name] ?? null)}`;
  }
  rest += '}';
  if (p.ret !== undefined) rest += `,"ret":${jsonScalar(p.ret)}`;
  if (p.faults) rest += `,"faults":${JSON.stringify(p.faults)}`;
  if (stacks && (p.kernelStack || p.userStack)) rest += stacks.json({ pid: batch.pid(i), ...p });
  out.text(rest + '}');
  out.end();
}

/**
 * One reading of in-kernel counts: `{ time, probe, by, counts: [{ key, count, label }], dropped }`;
 * each count names its `probe` too when a pattern matched several.
 */
export function countsJson(time: Date, probe: string, by: string, snap: CountSnapshot): string {
  const counts = snap.map((e) => ({ key: e.key, count: e.count, label: e.label, ...(e.probe !== undefined ? { probe: e.probe } : {}) }));
  return JSON.stringify({ time: time.toISOString(), probe, by, counts, dropped: snap.dropped }, jsonValue);
}

/** One reading of a histogram: `{ time, probe, value, buckets, total, p50, p90, p99, dropped, unit, scale, groups }`. */
export function histogramJson(time: Date, probe: string, value: string, snap: HistogramSnapshot): string {
  return JSON.stringify({ time: time.toISOString(), probe, value, ...snap }, jsonValue);
}

/**
 * One reading of stacks counted in the kernel: `{ time, probe, by, stacks:
 * [{ count, comm, pid?, kernel: [frames], user: [frames], lost? }], dropped }`.
 */
export function stackCountsJson(time: Date, probe: string, by: string, snap: StackSnapshot): string {
  const stacks = snap.map((s) => ({
    count: s.count,
    comm: s.comm,
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
    ...(s.kernel ? { kernel: s.kernel.map(String) } : {}),
    ...(s.user ? { user: s.user.map(String) } : {}),
    ...(s.lost ? { lost: s.lost } : {}),
  }));
  return JSON.stringify({ time: time.toISOString(), probe, by, stacks, dropped: snap.dropped });
}
