/**
 * prom-client and the OpenTelemetry packages are optional peers, and the
 * exporter's YAML parser serves `kprobe-node serve` only: loading the package
 * (and using its metrics without them) must load none of them.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { distLib } from '../helpers/host';

test('loading the package loads no optional peer and no YAML parser', () => {
  const script = `
    const kn = require(${JSON.stringify(path.join(distLib, 'index.js'))});
    const names = ['MetricSet', 'prometheus', 'serveMetrics', 'registerPromClient', 'observeCounts', 'histogramProducer'];
    const missing = names.filter((n) => typeof kn[n] !== 'function');
    const loaded = Object.keys(require.cache).filter((f) => /node_modules\\/(prom-client|@opentelemetry|yaml)\\//.test(f));
    process.stdout.write(JSON.stringify({ missing, loaded }));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ missing: [], loaded: [] });
});
