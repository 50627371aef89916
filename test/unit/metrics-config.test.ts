/**
 * The exporter's configuration file: YAML and JSON, checked whole; each
 * problem a ConfigError with the file, the line and the key.
 */
import { ConfigError } from '../../lib/errors';
import { parseConfig } from '../../lib/metrics/config';

function problem(text: string): string {
  try {
    parseConfig(text, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('EKN_BAD_CONFIG');
    return (e as Error).message;
  }
  throw new Error('no error');
}

const METRIC = 'metrics:\n  - name: opens\n    kind: count\n    target: syscall:openat\n';

describe('the exporter configuration', () => {
  test('YAML and JSON read alike', () => {
    const yaml = parseConfig(
      [
        'listen: 9464',
        'max_series: 50',
        'metrics:',
        '  - { name: opens, kind: count, target: "syscall:openat", by: pid, labels: { pid: process }, comm: cat }',
        '  - name: sleeps',
        '    kind: latency',
        '    target: syscall:clock_nanosleep',
        '    pid: 1',
        '  - name: reads',
        '    kind: hist',
        '    target: syscall:read',
        '    expression: ret',
        '    filter: fd == 0',
        '    string_size: 64',
      ].join('\n'),
    );
    expect(yaml).toEqual({
      listen: '9464',
      maxSeries: 50,
      metrics: [
        { name: 'opens', kind: 'count', target: 'syscall:openat', by: 'pid', labels: { pid: 'process' }, comm: 'cat' },
        { name: 'sleeps', kind: 'latency', target: 'syscall:clock_nanosleep', pid: 1 },
        { name: 'reads', kind: 'hist', target: 'syscall:read', expression: 'ret', filter: 'fd == 0', stringSize: 64 },
      ],
    });
    const json = parseConfig(JSON.stringify({ listen: '127.0.0.1:9464', metrics: [{ name: 'opens', kind: 'count', target: 'syscall:openat' }] }), 'x.json');
    expect(json).toEqual({ listen: '127.0.0.1:9464', metrics: [{ name: 'opens', kind: 'count', target: 'syscall:openat' }] });
  });

  test('each problem names the file, the line and the key', () => {
    expect(problem(`${METRIC}    kinds: x\n`)).toBe('x.yaml:5: metrics[0].kinds: unknown key (known: name, help, kind, target, by, expression, labels, pid, tid, uid, comm, filter, ret, string_size)');
    expect(problem(METRIC.replace('kind: count', 'kind: counts'))).toBe('x.yaml:3: metrics[0].kind: must be count, hist or latency, got "counts"');
    expect(problem(METRIC.replace('name: opens', 'name: file-opens'))).toBe('x.yaml:2: metrics[0].name: "file-opens" is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)');
    expect(problem(METRIC.replace('    kind: count\n', ''))).toBe('x.yaml:2: metrics[0]: needs a kind: count, hist or latency');
    expect(problem(`${METRIC}    expression: ret\n`)).toBe('x.yaml:5: metrics[0].expression: goes with kind hist, not count');
    expect(problem(METRIC.replace('kind: count', 'kind: hist'))).toBe('x.yaml:2: metrics[0]: kind hist needs an expression, e.g. ret');
    expect(problem(METRIC.replace('kind: count', 'kind: latency') + '    by: pid\n')).toBe('x.yaml:5: metrics[0].by: goes with kind count, not latency');
    expect(problem(METRIC.replace('syscall:openat', 'uprobe:libc'))).toMatch(/^x\.yaml:4: metrics\[0\]\.target: /);
    expect(problem(`${METRIC}    pid: -1\n`)).toBe('x.yaml:5: metrics[0].pid: must be an integer from 0 to 4294967295');
    expect(problem(`${METRIC}    comm: a_comm_that_is_too_long\n`)).toMatch(/^x\.yaml:2: metrics\[0\]: comm is at most 15 characters/);
    expect(problem(`${METRIC}    labels: { comm: __x }\n`)).toMatch(/^x\.yaml:5: metrics\[0\]\.labels\.comm: must be a label name/);
    expect(problem(`listen: nowhere\n${METRIC}`)).toMatch(/^x\.yaml:1: listen: cannot listen on "nowhere"/);
    expect(problem(`${METRIC}  - name: opens_total\n    kind: count\n    target: syscall:read\n`)).toBe('x.yaml:5: metrics[1].name: another metric is exposed as opens_total too');
    expect(problem('metrics: []\n')).toBe('x.yaml:1: metrics: needs `metrics:`, a list of at least one metric');
    expect(problem('listen: 9464\n')).toBe('x.yaml:1: needs `metrics:`, a list of at least one metric');
    expect(problem('metrics:\n  - name: [\n')).toMatch(/^x\.yaml:\d+: /);
    expect(problem(`${METRIC}  - name: opens\n    name: again\n`)).toMatch(/^x\.yaml:6: Map keys must be unique/);
  });
});
