/**
 * Newline-delimited JSON, one object per event or per summary reading: what
 * log shippers and `jq` take. 64-bit values become numbers when they fit
 * exactly, strings otherwise; byte arrays become hex.
 */
import { EventBatch, wallMs } from '../core/event';
import { StackFormat, stacksJson } from './stack';
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

// Records of one millisecond share their ISO time: formatting a Date costs more than the rest of a line.
let isoMs = NaN;
let isoText = '';

function isoTime(monotonicNs: number): string {
  const ms = wallMs(monotonicNs);
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

// Strings that recur on every line (probe names, comms) are quoted once.
const quotedCache = new Map<string, string>();
const QUOTED_LIMIT = 4096;

function quoted(s: string): string {
  let q = quotedCache.get(s);
  if (q === undefined) {
    if (quotedCache.size >= QUOTED_LIMIT) quotedCache.clear();
    quotedCache.set(s, (q = JSON.stringify(s)));
  }
  return q;
}

// A thread's records in a row name the same task: its part of the line is made once for them (and
// again each second, when a container made since may have become known).
const lastTask = { pid: -1, tid: -1, uid: -1, hostPid: -1, hostTid: -1, cgroupId: -1, comm: '', second: -1 };
let lastTaskText = '';

/** `"pid":..,"tid":..,"uid":..,"comm":..,"cgroupId":..`, then hostPid and hostTid where they differ, and containerId. */
function task(batch: EventBatch, i: number, ns: number): string {
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
    return lastTaskText;
  }
  Object.assign(t, { pid, tid, uid, hostPid, hostTid, cgroupId, comm, second });
  let text = `"pid":${pid},"tid":${tid},"uid":${uid},"comm":${quoted(comm)},"cgroupId":${cgroupId}`;
  if (hostPid !== pid || hostTid !== tid) text += `,"hostPid":${hostPid},"hostTid":${hostTid}`;
  const container = batch.containerId(i);
  if (container !== undefined) text += `,"containerId":"${container}"`;
  return (lastTaskText = text);
}

/**
 * An integer below 2^53 in decimal, as two small integers (seconds and
 * nanoseconds of a timestamp): printing those is faster than printing a double.
 */
function decimal(n: number): string {
  const high = Math.floor(n / 1e9);
  const low = n - high * 1e9;
  return high ? String(high) + String(low + 1e9).slice(1) : String(low);
}

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
 * Record `i` of a batch as one JSON object: time (ISO), ns, probe, cpu, pid,
 * tid, uid, comm, cgroupId; hostPid and hostTid where they differ from pid and
 * tid (a tracer in a container); containerId where the cgroup names a
 * container; args, and ret (return probes) and faults (when any); with `stacks`, the record's stacks symbolized, as
 * kernelStack and userStack (arrays of frames as text, innermost first).
 */
export function jsonLine(batch: EventBatch, i: number, stacks?: StackFormat): string {
  const ns = batch.nsNumber(i);
  const nsText = ns < 2 ** 53 ? decimal(ns) : String(batch.ns(i));
  let line = `{"time":"${isoTime(ns)}","ns":"${nsText}","probe":${quoted(batch.probe(i))},"cpu":${batch.cpu(i)},${task(batch, i, ns)}`;
  const plans = batch.plans(i);
  if (!plans.length && !stacks) return line + ',"args":{}}';
  line += ',"args":{';
  const p = batch.payload(i);
  let first = true;
  for (const plan of plans) {
    if (plan.fetch.hidden || plan.isReturn) continue;
    line += `${first ? '' : ','}${quoted(plan.name)}:${jsonScalar(p.args[plan.name] ?? null)}`;
    first = false;
  }
  line += '}';
  if (p.ret !== undefined) line += `,"ret":${jsonScalar(p.ret)}`;
  if (p.faults) line += `,"faults":${JSON.stringify(p.faults)}`;
  if (stacks && (p.kernelStack || p.userStack)) line += stacksJson({ pid: batch.pid(i), ...p }, stacks);
  return line + '}';
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
