/**
 * Newline-delimited JSON, one object per event or per summary reading: what
 * log shippers and `jq` take. 64-bit values become numbers when they fit
 * exactly, strings otherwise; byte arrays become hex.
 */
import type { Payload } from '../core/decode';
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
  let line =
    `{"time":"${isoTime(ns)}","ns":"${batch.ns(i)}","probe":${JSON.stringify(batch.probe(i))},"cpu":${batch.cpu(i)},` +
    `"pid":${batch.pid(i)},"tid":${batch.tid(i)},"uid":${batch.uid(i)},"comm":${JSON.stringify(batch.comm(i))},"cgroupId":${batch.cgroupId(i)}`;
  const hostPid = batch.hostPid(i);
  const hostTid = batch.hostTid(i);
  if (hostPid !== batch.pid(i) || hostTid !== batch.tid(i)) line += `,"hostPid":${hostPid},"hostTid":${hostTid}`;
  const container = batch.containerId(i);
  if (container !== undefined) line += `,"containerId":"${container}"`;
  line += ',"args":{';
  const plans = batch.plans(i);
  const p: Partial<Payload> & { args: Record<string, unknown> } = plans.length || stacks ? batch.payload(i) : { args: {} };
  let first = true;
  for (const plan of plans) {
    if (plan.fetch.hidden || plan.isReturn) continue;
    line += `${first ? '' : ','}${JSON.stringify(plan.name)}:${jsonScalar(p.args[plan.name] ?? null)}`;
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
