/**
 * Newline-delimited JSON, one object per event or per summary reading: what
 * log shippers and `jq` take. 64-bit values become numbers when they fit
 * exactly, strings otherwise; byte arrays become hex.
 */
import type { TraceEvent } from '../core/event';
import type { CountSnapshot, HistogramSnapshot } from '../summary';

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

/** One JSON object: time (ISO), ns, probe, cpu, pid, tid, uid, comm, args, and ret for return probes. */
export function formatJson(ev: TraceEvent): string {
  const out: Record<string, unknown> = {
    time: ev.time.toISOString(),
    ns: ev.ns.toString(),
    probe: ev.probe,
    cpu: ev.cpu,
    pid: ev.pid,
    tid: ev.tid,
    uid: ev.uid,
    comm: ev.comm,
    args: ev.args,
  };
  if (ev.ret !== undefined) out.ret = ev.ret;
  if (ev.faults) out.faults = ev.faults;
  return JSON.stringify(out, jsonValue);
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
