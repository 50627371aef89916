/**
 * The exporter daemon's configuration (`kprobe-node serve <file>`): YAML, or
 * JSON (which YAML 1.2 reads as it is, so one parser serves both and every
 * error has a line). Checked whole before anything is attached; a problem is
 * a ConfigError naming the file, the line and the key. The parser is the
 * `yaml` package (maintained, no dependencies of its own, a position for
 * every node): a subset parser of our own would refuse configs that are valid
 * YAML. Only this command loads it.
 *
 *   listen: 127.0.0.1:9464
 *   metrics:
 *     - name: file_opens
 *       help: Files opened, by command
 *       kind: count
 *       target: syscall:openat
 *       by: comm
 */
import * as fs from 'fs';
import { LineCounter, parseDocument } from 'yaml';
import { checkOptions, parseTarget } from '../attach';
import { ConfigError, KprobeNodeError } from '../errors';
import { parseListen } from './server';
import { EVENTS_LOST, SERIES_DROPPED, metricNames } from './set';

export type MetricKind = 'count' | 'hist' | 'latency';

/** One summary served as a metric. */
export interface MetricConfig {
  /** The metric's name (counts get `_total`, latency `_seconds`). */
  name: string;
  help?: string;
  kind: MetricKind;
  /** As on the command line: `syscall:openat`, `tracepoint:cat:name`, `vfs_read`, `uprobe:libc:malloc`. */
  target: string;
  /** count: comm (default), pid, probe or an argument expression. */
  by?: string;
  /** hist: the value, e.g. `ret` or `count`. */
  expression?: string;
  /** Label names for the key's parts: `{ comm: command }`. */
  labels?: Record<string, string>;
  pid?: number;
  tid?: number;
  uid?: number;
  comm?: string;
  filter?: string;
  ret?: boolean;
  stringSize?: number;
}

export interface ExporterConfig {
  /** Where /metrics is served: `host:port`, or a port on 127.0.0.1. */
  listen?: string;
  /** Most series per metric (default 1000). */
  maxSeries?: number;
  /** Entries of the kernel's count map; read at start only. */
  maxCounts?: number;
  metrics: MetricConfig[];
}

const TOP_KEYS = ['listen', 'max_series', 'max_counts', 'metrics'];
const METRIC_KEYS = ['name', 'help', 'kind', 'target', 'by', 'expression', 'labels', 'pid', 'tid', 'uid', 'comm', 'filter', 'ret', 'string_size'];
const KINDS: readonly string[] = ['count', 'hist', 'latency'];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Path = (string | number)[];

const pathText = (path: Path) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');

/** Reads and checks a configuration file. */
export function readConfig(file: string): ExporterConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, `cannot read it: ${(e as Error).message}`);
  }
  return parseConfig(text, file);
}

/** Parses and checks configuration text; `file` names it in errors. */
export function parseConfig(text: string, file = 'config'): ExporterConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(file, e.message.split('\n')[0], { line: e.linePos?.[0].line });
  }
  const fail = (path: Path, reason: string): never => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    throw new ConfigError(file, reason, { key: pathText(path) || undefined, line: node?.range ? lines.linePos(node.range[0]).line : undefined });
  };
  return checkConfig(doc.toJS() as unknown, fail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkConfig(raw: unknown, fail: (path: Path, reason: string) => never): ExporterConfig {
  if (!isObject(raw)) return fail([], 'must be a mapping with `metrics:` (and `listen:`)');
  const known = (o: Record<string, unknown>, keys: string[], path: Path) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail([...path, k], `unknown key (known: ${keys.join(', ')})`);
  };
  const str = (v: unknown, path: Path): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') return fail(path, 'must be a non-empty string');
    return v;
  };
  const int = (v: unknown, path: Path, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(path, `must be an integer from ${min} to ${max}`);
    return v;
  };
  known(raw, TOP_KEYS, []);
  const config: ExporterConfig = { metrics: [] };
  // `listen: 9464` is a number to YAML: a port.
  const listen = str(typeof raw.listen === 'number' ? String(raw.listen) : raw.listen, ['listen']);
  if (listen !== undefined) {
    try {
      parseListen(listen);
    } catch (e) {
      fail(['listen'], (e as Error).message);
    }
    config.listen = listen;
  }
  const maxSeries = int(raw.max_series, ['max_series'], 1, 1 << 24);
  if (maxSeries !== undefined) config.maxSeries = maxSeries;
  const maxCounts = int(raw.max_counts, ['max_counts'], 1, 1 << 24);
  if (maxCounts !== undefined) config.maxCounts = maxCounts;
  if (!Array.isArray(raw.metrics) || raw.metrics.length === 0) return fail(raw.metrics === undefined ? [] : ['metrics'], 'needs `metrics:`, a list of at least one metric');

  const names = new Set<string>();
  raw.metrics.forEach((m: unknown, i: number) => {
    const at = (...p: Path): Path => ['metrics', i, ...p];
    if (!isObject(m)) return fail(at(), 'must be a mapping (name, kind, target, ...)');
    known(m, METRIC_KEYS, at());
    const name = str(m.name, at('name')) ?? fail(at(), 'needs a name');
    if (!METRIC_NAME.test(name)) fail(at('name'), `"${name}" is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
    const kind = str(m.kind, at('kind')) ?? fail(at(), 'needs a kind: count, hist or latency');
    if (!KINDS.includes(kind)) fail(at('kind'), `must be count, hist or latency, got "${kind}"`);
    // Two metrics may not end up with one name (file_opens and file_opens_total are both file_opens_total).
    const family = metricNames(name, kind === 'count' ? 'counter' : 'histogram', kind === 'latency' ? 'ns' : undefined).name;
    const exposed = kind === 'count' ? `${family}_total` : family;
    if (family === SERIES_DROPPED || family === EVENTS_LOST) fail(at('name'), `${exposed} is a name kprobe-node uses for itself`);
    if (names.has(family)) fail(at('name'), `another metric is exposed as ${exposed} too`);
    names.add(family);
    const target = str(m.target, at('target')) ?? fail(at(), 'needs a target, e.g. syscall:openat');
    try {
      parseTarget(target);
    } catch (e) {
      fail(at('target'), (e as Error).message);
    }
    const metric: MetricConfig = { name, kind: kind as MetricKind, target };
    const help = str(m.help, at('help'));
    if (help !== undefined) metric.help = help;
    const by = str(m.by, at('by'));
    if (by !== undefined) {
      if (kind !== 'count') fail(at('by'), `goes with kind count, not ${kind}`);
      metric.by = by;
    }
    const expression = str(m.expression, at('expression'));
    if (kind === 'hist' && expression === undefined) fail(at(), 'kind hist needs an expression, e.g. ret');
    if (expression !== undefined) {
      if (kind !== 'hist') fail(at('expression'), `goes with kind hist, not ${kind}`);
      metric.expression = expression;
    }
    if (m.labels !== undefined) {
      if (!isObject(m.labels)) fail(at('labels'), 'must be a mapping from key parts to label names, e.g. { comm: command }');
      for (const [k, v] of Object.entries(m.labels as Record<string, unknown>)) {
        if (typeof v !== 'string' || !LABEL_NAME.test(v) || v.startsWith('__')) fail(at('labels', k), 'must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)');
      }
      metric.labels = m.labels as Record<string, string>;
    }
    for (const key of ['pid', 'tid', 'uid'] as const) {
      const v = int(m[key], at(key), 0, 0xffffffff);
      if (v !== undefined) metric[key] = v;
    }
    const comm = str(m.comm, at('comm'));
    if (comm !== undefined) metric.comm = comm;
    const filter = str(m.filter, at('filter'));
    if (filter !== undefined) metric.filter = filter;
    if (m.ret !== undefined) {
      if (typeof m.ret !== 'boolean') fail(at('ret'), 'must be true or false');
      metric.ret = m.ret as boolean;
    }
    const stringSize = int(m.string_size, at('string_size'), 1, 4096);
    if (stringSize !== undefined) metric.stringSize = stringSize;
    try {
      checkOptions({ pid: metric.pid, tid: metric.tid, uid: metric.uid, comm: metric.comm, filter: metric.filter, stringSize: metric.stringSize });
    } catch (e) {
      if (e instanceof KprobeNodeError) fail(at(), e.message);
      throw e;
    }
    config.metrics.push(metric);
  });
  return config;
}
