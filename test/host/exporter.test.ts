/**
 * `kprobe-node serve <config>`, the exporter daemon, as a process: three
 * summaries from one file; SIGHUP with one of them changed attaches the new
 * one, detaches the old (its links leave the kernel) and keeps the other two
 * with their counts; a broken file changes nothing; SIGTERM exits and leaves
 * no link behind. The example config and systemd unit that ship are checked
 * too.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bpfObjectsOf, stillLoaded } from '../helpers/bpf-objects';
import { describeHost, repoRoot } from '../helpers/host';
import { Child, cliPath, until } from '../helpers/proc';
import { Workload, copyAs, uniqueComm, workloadPath } from '../helpers/workload';

jest.setTimeout(120000);

function configText(comm: string, third: string): string {
  return `
listen: 127.0.0.1:0
metrics:
  - name: test_opens
    help: Files opened by the test's workload
    kind: count
    target: syscall:openat
    comm: ${comm}
    labels: { comm: command }
  - name: test_sleeps
    kind: latency
    target: syscall:clock_nanosleep
    comm: ${comm}
${third}`;
}

const WRITES = `  - name: test_write_bytes
    kind: hist
    target: syscall:write
    expression: count
    comm: COMM
`;

const GETPPIDS = `  - name: test_getppids
    kind: count
    target: syscall:getppid
    by: pid
    comm: COMM
`;

async function metricsText(url: string): Promise<string> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return r.text();
}

/** A copy of the workload under a comm of its own (nothing else's events can count). */
function workloadAs(dir: string, prefix: string): { file: string; comm: string } {
  const comm = uniqueComm(prefix);
  return { file: copyAs(workloadPath(), dir, comm), comm };
}

/** Runs the workload copy to its end, calling `paused` once its start-up is behind it; returns its pid. */
async function runWorkload(file: string, args: string[], paused: () => Promise<void> = async () => undefined): Promise<number> {
  const w = new Workload(args, file);
  const pid = await w.ready();
  await paused();
  await w.go();
  return pid;
}

/** The value of one sample line of an exposition (0 when it is absent). */
const sample = (text: string, line: string) => Number(new RegExp(`^${line.replace(/[{}()[\].*+?^$|\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

describeHost('kprobe-node serve (the exporter daemon)', { root: true, tracefs: true, tools: ['bpftool', 'gcc', 'promtool'] }, () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-exporter-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('three summaries; SIGHUP swaps one and keeps two with their counts; a broken file changes nothing; SIGTERM leaves no link', async () => {
    const { file, comm } = workloadAs(dir, 'kne');
    const other = workloadAs(dir, 'kng'); // the new metric's workload: the kept ones do not see it
    const config = path.join(dir, 'exporter.yaml');
    fs.writeFileSync(config, configText(comm, WRITES.replace('COMM', comm)));
    const daemon = new Child(process.execPath, [cliPath, 'serve', config]);
    try {
      const url = (await daemon.waitFor(/serving 3 metrics at (\S+metrics)/, 30000, 'stderr'))[1];
      // One link for each count or histogram, two (entry and exit) for the latency.
      const before = bpfObjectsOf(daemon.pid).links;
      expect(before).toHaveLength(4);

      // The loader's opens come before the pause; the three after it are the workload's.
      const opens = `test_opens_total{command="${comm}"}`;
      let loader = 0;
      const pid = await runWorkload(file, ['open', '/etc/hostname', '/etc/hostname', '/etc/hostname'], async () => {
        loader = sample(await metricsText(url), opens);
      });
      let text = await metricsText(url);
      expect(sample(text, opens)).toBe(loader + 3);
      // Its writes: "pid N\n", one line per fd, "done\n"; the kernel's sum of their sizes is exact.
      const lines = [`pid ${pid}\n`, '3\n', '3\n', '3\n', 'done\n'];
      expect(text).toContain(`\ntest_write_bytes_count ${lines.length}\n`);
      expect(text).toContain(`\ntest_write_bytes_sum ${lines.join('').length}\n`);
      expect(text).toMatch(/^test_sleeps_seconds_count 0$/m);

      // SIGHUP: the third metric becomes another one.
      fs.writeFileSync(config, configText(comm, GETPPIDS.replace('COMM', other.comm)));
      daemon.proc.kill('SIGHUP');
      await daemon.waitFor(/reloaded .*: 1 attached, 1 detached, 2 kept/, 30000, 'stderr');
      const after = bpfObjectsOf(daemon.pid).links;
      expect(after).toHaveLength(4);
      const kept = before.filter((id) => after.includes(id));
      const gone = before.filter((id) => !after.includes(id));
      expect(kept).toHaveLength(3);
      expect(gone).toHaveLength(1);
      expect(await until(() => stillLoaded({ progs: [], links: gone }).links.length === 0, 10000)).toBe(true);

      await runWorkload(other.file, ['getppid', '5']);
      text = await metricsText(url);
      expect(sample(text, opens)).toBe(loader + 3); // kept, with its count
      expect(text).not.toContain('test_write_bytes');
      expect(text).toMatch(/^test_getppids_total\{pid="\d+"\} 5$/m);
      expect(spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).status).toBe(0);

      // A file that cannot be used: the daemon says why and keeps everything.
      fs.writeFileSync(config, configText(comm, '  - name: test_bad\n    kind: counts\n    target: syscall:read\n'));
      daemon.proc.kill('SIGHUP');
      await daemon.waitFor(/reload failed, nothing changed: .*exporter\.yaml:\d+: metrics\[2\]\.kind: must be count, hist or latency/, 30000, 'stderr');
      expect(bpfObjectsOf(daemon.pid).links).toEqual(after);
      expect(sample(await metricsText(url), opens)).toBe(loader + 3);

      daemon.proc.kill('SIGTERM');
      const { code } = await daemon.exited;
      expect(code).toBe(0);
      // The kernel releases the links once the process is gone (a kernel worker may finish it).
      expect(await until(() => stillLoaded({ progs: [], links: after }).links.length === 0, 15000)).toBe(true);
    } finally {
      daemon.kill();
    }
  });

  test('a config that cannot be used stops it before anything is attached, naming the line and key', async () => {
    const config = path.join(dir, 'bad.json');
    fs.writeFileSync(config, '{\n  "listen": "9464",\n  "metrics": [\n    { "name": "x", "kind": "count", "target": "syscall:openat", "bye": "pid" }\n  ]\n}\n');
    const daemon = new Child(process.execPath, [cliPath, 'serve', config]);
    const { code } = await daemon.exited;
    expect(code).toBe(2);
    expect(daemon.stderr).toBe(`kprobe-node: ${config}:4: metrics[0].bye: unknown key (known: name, help, kind, target, by, expression, labels, pid, tid, uid, comm, filter, ret, string_size)\n`);
  });

  test('the example config serves its three metrics', async () => {
    const example = path.join(repoRoot, 'contrib', 'exporter', 'exporter.yaml');
    const daemon = new Child(process.execPath, [cliPath, 'serve', example, '--listen', '0']);
    try {
      const url = (await daemon.waitFor(/serving 3 metrics at (\S+metrics)/, 30000, 'stderr'))[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      fs.writeFileSync(path.join(dir, 'f'), 'x');
      const text = await metricsText(url);
      for (const family of ['file_opens_total counter', 'fsync_latency_seconds histogram', 'read_bytes histogram']) expect(text).toContain(`# TYPE ${family}\n`);
      expect(text).toMatch(/^file_opens_total\{command="node"\} \d+$/m);
      expect(spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).status).toBe(0);
      const health = await fetch(url.replace(/metrics$/, 'healthz'));
      expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.exited;
    }
  });

});

describeHost('the exporter\'s systemd unit', { tools: ['systemd-analyze'] }, () => {
  test('passes systemd-analyze verify', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-unit-'));
    // Its ExecStart must exist to verify: the installed command's place becomes this checkout's.
    const unit = fs.readFileSync(path.join(repoRoot, 'contrib', 'exporter', 'kprobe-node-exporter.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/local/bin/kprobe-node serve /etc/kprobe-node/exporter.yaml\n');
    const copy = path.join(dir, 'kprobe-node-exporter.service');
    fs.writeFileSync(copy, unit.replace('/usr/local/bin/kprobe-node', path.join(repoRoot, 'scripts', 'kprobe-node')));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });
});
