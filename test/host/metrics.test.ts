/**
 * The metrics API on the real kernel, against a workload whose syscalls are
 * known exactly (a copy of kn_workload under a comm of its own, attached to
 * while it is paused after start-up): prometheus() with the kernel's exact
 * sum; the series bound; the HTTP endpoint; prom-client's registry serving
 * the kernel's metrics next to a service's own; OpenTelemetry's SDK (in
 * memory, and OTLP/HTTP to a receiver here) getting the counts and an
 * exponential histogram whose buckets are the kernel's.
 */
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Counter as PromCounter, Registry } from 'prom-client';
import type { RegistryContentType } from 'prom-client';
import { gunzipSync } from 'zlib';
import { Counter, Histogram, MetricSet, countBy, histogram, histogramProducer, observeCounts, prometheus, registerPromClient, serveMetrics } from '../../lib';
import type { HistogramSnapshot } from '../../lib';
import { describeHost } from '../helpers/host';
import { Child } from '../helpers/proc';
import { Workload, copyAs, uniqueComm, workloadPath } from '../helpers/workload';

jest.setTimeout(60000);

/** The workload's opens: three files that exist, two that do not (-ENOENT). */
const PATHS = ['/etc/hostname', '/etc/hostname', '/etc/hostname', '/nonexistent/a', '/nonexistent/b'];
/** What it writes after its pause: a line per open (`3`, `-2`), then `done`. */
const WRITES = ['3\n', '3\n', '3\n', '-2\n', '-2\n', 'done\n'].map((l) => l.length);

interface Summaries {
  comm: string;
  opens: Counter;
  writes: Histogram;
  rets: Histogram;
}

describeHost('metrics from in-kernel summaries', { root: true, tracefs: true, tools: ['gcc', 'promtool'] }, () => {
  let dir: string;
  let s: Summaries;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-metrics-'));
    const comm = uniqueComm('knm');
    const w = new Workload(['open', ...PATHS], copyAs(workloadPath(), dir, comm));
    await w.ready();
    s = {
      comm,
      opens: countBy('syscall:openat', { comm }),
      writes: histogram('syscall:write', 'count', { comm }),
      rets: histogram('syscall:openat', 'ret', { comm }),
    };
    await w.go();
  });
  afterAll(() => {
    for (const x of Object.values(s ?? {})) if (typeof x === 'object') x.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('prometheus(): counters by comm; histograms with exact cumulative buckets and the kernel\'s exact sum', () => {
    const counts = prometheus(s.opens, { name: 'file_opens', help: 'Files opened' });
    expect(counts).toContain(`# HELP file_opens_total Files opened\n# TYPE file_opens_total counter\nfile_opens_total{comm="${s.comm}"} 5\n`);

    // 2-byte lines are in [2, 4), that is <= 3; 3-byte ones too; "done\n" in [4, 8).
    expect(prometheus(s.writes, { name: 'write_bytes' })).toContain(
      [
        'write_bytes_bucket{le="1"} 0',
        'write_bytes_bucket{le="3"} 5',
        'write_bytes_bucket{le="7"} 6',
        'write_bytes_bucket{le="+Inf"} 6',
        `write_bytes_sum ${WRITES.reduce((a, b) => a + b)}`,
        'write_bytes_count 6',
      ].join('\n'),
    );
    expect(s.writes.snapshot().sum).toBe(17);

    // openat's ret is signed: the two -ENOENT are at or below -1, the fds (3) in [2, 4); the sum is 3*3 - 2*2.
    const rets = prometheus(s.rets, { name: 'openat_ret' });
    expect(rets).toContain(['openat_ret_bucket{le="-1"} 2', 'openat_ret_bucket{le="1"} 2', 'openat_ret_bucket{le="3"} 5', 'openat_ret_bucket{le="+Inf"} 5', 'openat_ret_sum 5', 'openat_ret_count 5'].join('\n'));
    // OpenMetrics: a histogram with a negative bucket has no _sum; counters are named without _total.
    const om = prometheus(s.rets, { name: 'openat_ret', format: 'openmetrics' });
    expect(om).not.toContain('openat_ret_sum');
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(prometheus(s.opens, { name: 'file_opens', format: 'openmetrics' })).toContain('# TYPE file_opens counter\n');

    for (const text of [counts, rets]) expect(spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).status).toBe(0);
  });

  test('a metric keeps at most maxSeries series: the rest add up in one "other" series and are counted as dropped', async () => {
    const comm = uniqueComm('knc');
    const names = Array.from({ length: 10 }, (_, i) => `/nonexistent/k${i}`);
    // Both runs start (and pass their loader's opens) before counting starts.
    const copy = copyAs(workloadPath(), dir, comm);
    const first = new Workload(['open', ...names, ...names.slice(0, 2)], copy);
    const second = new Workload(['open', names[9], '/nonexistent/new'], copy);
    await first.ready();
    await second.ready();
    const byName = countBy('syscall:openat', { by: 'filename', comm });
    try {
      const metrics = new MetricSet({ maxSeries: 4 }).add(byName, { name: 'opens_by_file' });
      await first.go();
      const family = metrics.families()[0];
      const series = family.type === 'counter' ? family.series : [];
      expect(series).toHaveLength(5);
      // The two opened twice come first (a snapshot is largest first), so they keep their own series.
      const value = (name: string) => series.find((x) => x.labels[0][1] === name)?.value;
      expect(value('/nonexistent/k0')).toBe(2);
      expect(value('/nonexistent/k1')).toBe(2);
      expect(value('other')).toBe(6);
      expect(series.reduce((n, x) => n + x.value, 0)).toBe(12);
      expect(metrics.exposition()).toContain('kprobe_node_series_dropped_total{metric="opens_by_file"} 6\n');

      // Later readings keep the same series: each only grows, and a new key goes to "other".
      await second.go();
      const text = metrics.exposition();
      const kept = series.filter((x) => x.labels[0][1] !== 'other').map((x) => x.labels[0][1]);
      const k9 = kept.includes(names[9]) ? 0 : 1;
      expect(text).toContain(`opens_by_file_total{filename="other"} ${6 + k9 + 1}\n`);
      expect(text).toContain(`kprobe_node_series_dropped_total{metric="opens_by_file"} 7\n`);
      expect(text.match(/^opens_by_file_total/gm)).toHaveLength(5);
    } finally {
      byName.close();
      first.kill();
      second.kill();
    }
  });

  test('serveMetrics(): /metrics in the format asked for (gzipped when accepted), /healthz; loopback by default', async () => {
    const metrics = new MetricSet().add(s.opens, { name: 'file_opens' }).add(s.writes, { name: 'write_bytes' });
    const server = await serveMetrics(metrics, { listen: '0' });
    try {
      expect(server.address.host).toBe('127.0.0.1');
      const url = `${server.url}metrics`;
      const plain = await fetch(url);
      expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await plain.text()).toBe(metrics.exposition('prometheus'));
      // Prometheus 2.x's own Accept header.
      const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
      const om = await rawGet(url, { Accept: accept, 'Accept-Encoding': 'gzip' });
      expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(om.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(om.body).toString()).toBe(metrics.exposition('openmetrics'));
      expect((await fetch(`${server.url}healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}nothing`)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  test('prom-client: a service\'s own registry serves the kernel\'s metrics next to its own', async () => {
    const registry = new Registry<RegistryContentType>();
    const requests = new PromCounter({ name: 'http_requests_total', help: 'Requests served', registers: [registry] });
    requests.inc(3);
    const metrics = new MetricSet().add(s.opens, { name: 'file_opens', help: 'Files opened' }).add(s.writes, { name: 'write_bytes' });
    const unregister = registerPromClient(registry, metrics);
    // The service's /metrics, as it already is.
    const server = http.createServer(async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text();
      expect(text).toContain('http_requests_total 3\n');
      expect(text).toContain(`# HELP file_opens_total Files opened\n# TYPE file_opens_total counter\nfile_opens_total{comm="${s.comm}"} 5\n`);
      expect(text).toContain('write_bytes_bucket{le="3"} 5\n');
      expect(text).toContain('write_bytes_sum 17\n');
      expect(text).toContain('write_bytes_count 6\n');
      expect(spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).status).toBe(0);

      // An OpenMetrics registry names counters its way: the family without _total, the samples with it.
      registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      const om = await registry.metrics();
      expect(om).toContain(`# TYPE file_opens counter\nfile_opens_total{comm="${s.comm}"} 5\n`);
    } finally {
      server.close();
      unregister();
    }
    expect(registry.getSingleMetric('file_opens_total')).toBeUndefined();
    expect(registry.getSingleMetric('write_bytes')).toBeUndefined();
  });

  test('OpenTelemetry: an SDK reader gets the counts as a counter and the kernel\'s buckets as an exponential histogram', async () => {
    const metrics = new MetricSet().add(s.opens, { name: 'file_opens' }).add(s.writes, { name: 'write_bytes' }).add(s.rets, { name: 'openat_ret' });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, metricProducers: [histogramProducer(metrics)] });
    const provider = new MeterProvider({ readers: [reader] });
    const stop = observeCounts(provider.getMeter('kernel'), metrics);
    try {
      await reader.forceFlush();
      const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((sm) => sm.metrics));
      const opens = all.find((m) => m.descriptor.name === 'file_opens');
      expect(opens?.dataPointType).toBe(DataPointType.SUM);
      expect(opens?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ comm: s.comm }, 5]]);

      const writes = all.find((m) => m.descriptor.name === 'write_bytes');
      expect(writes?.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM);
      const h = writes?.dataPoints[0].value as ExponentialHistogram;
      // Kernel bucket [2, 4) is index 1, [4, 8) index 2: the kernel's counts, bucket for bucket.
      expect(h).toMatchObject({ scale: 0, count: 6, sum: 17, zeroCount: 0, positive: { offset: 1, bucketCounts: [5, 1] } });
      const kernel = s.writes.snapshot().buckets;
      expect(h.positive.bucketCounts).toEqual(kernel.map((b) => b.count));
      expect(kernel.map((b) => b.low)).toEqual(h.positive.bucketCounts.map((_, i) => 2 ** (h.positive.offset + i)));

      const rets = all.find((m) => m.descriptor.name === 'openat_ret')?.dataPoints[0].value as ExponentialHistogram;
      expect(rets).toMatchObject({ count: 5, sum: 5, positive: { offset: 1, bucketCounts: [3] }, negative: { offset: 0, bucketCounts: [2] } });
    } finally {
      stop();
      await provider.shutdown();
    }
  });

  test('OpenTelemetry: an OTLP/HTTP export carries the same numbers to a receiver', async () => {
    const bodies: { path?: string; type?: string; body: OtlpBody }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString()) as OtlpBody });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const comm = uniqueComm('kno');
    const w = new Workload(['open', ...PATHS], copyAs(workloadPath(), dir, comm));
    const exporter = new Child(process.execPath, [path.join(__dirname, '..', 'helpers', 'otlp-child.js'), `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/metrics`, comm]);
    try {
      await w.ready();
      await exporter.waitFor(/^ready$/m, 30000);
      await w.go();
      exporter.proc.stdin!.write('export\n');
      const kernel = JSON.parse((await exporter.waitFor(/^(\{.*\})$/m, 30000))[1]) as { opens: { key: string; count: number }[]; writes: HistogramSnapshot };
      expect((await exporter.exited).code).toBe(0);

      expect(bodies.length).toBeGreaterThanOrEqual(1);
      expect([bodies[0].path, bodies[0].type]).toEqual(['/v1/metrics', 'application/json']);
      const sent = bodies[0].body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((sm) => sm.metrics));
      const opens = sent.find((m) => m.name === 'file_opens');
      expect(opens?.sum?.isMonotonic).toBe(true);
      expect(opens?.sum?.dataPoints.map((p) => [p.attributes, Number(p.asInt)])).toEqual([[[{ key: 'comm', value: { stringValue: comm } }], 5]]);
      expect(kernel.opens.map((e) => [e.key, e.count])).toEqual([[comm, 5]]);

      const hist = sent.find((m) => m.name === 'write_bytes')?.exponentialHistogram?.dataPoints[0];
      const got = { scale: hist?.scale ?? 0, count: Number(hist?.count), sum: hist?.sum, offset: hist?.positive.offset ?? 0, counts: hist?.positive.bucketCounts.map(Number) };
      // What the kernel counted, bucket for bucket: [2, 4) is index 1.
      expect(got).toEqual({ scale: 0, count: kernel.writes.total, sum: kernel.writes.sum, offset: Math.log2(kernel.writes.buckets[0].low), counts: kernel.writes.buckets.map((b) => b.count) });
      expect(got).toEqual({ scale: 0, count: 6, sum: 17, offset: 1, counts: [5, 1] });
    } finally {
      w.kill();
      exporter.kill();
      receiver.close();
    }
  });
});

interface OtlpBody {
  resourceMetrics: {
    scopeMetrics: {
      metrics: {
        name: string;
        sum?: { isMonotonic: boolean; dataPoints: { asInt?: string | number; attributes: unknown[] }[] };
        exponentialHistogram?: { dataPoints: { scale?: number; count: string | number; sum: number; positive: { offset?: number; bucketCounts: (string | number)[] } }[] };
      }[];
    }[];
  }[];
}

/** A GET whose body stays as sent (fetch would undo the gzip). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}
