/**
 * The README's "Metrics" section, run as written: its shell sessions in a
 * bash (`sudo` dropped, the installed command on PATH, each port swapped for a
 * free one), its programs as ES modules importing the package. What a session
 * or a program shows must be what it prints, the values of metric samples
 * aside (they depend on what else runs on the machine).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { describeHost, repoRoot } from '../helpers/host';
import { Child, sleep } from '../helpers/proc';
import { freePort } from '../helpers/prometheus';
import { readmeBlocks } from '../helpers/readme';

jest.setTimeout(120000);

/** A pattern for a shown line: the same text; a metric sample with any value. */
function shownLine(line: string): RegExp {
  const sample = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) \S+$/.exec(line);
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(sample ? `^${escape(sample[1])} \\S+$` : `^${escape(line)}$`);
}

/** Every shown line matches a line of `out`, each a different one. */
function shows(out: string, shown: string[]): boolean {
  const lines = out.split('\n');
  return shown.every((s) => {
    const i = lines.findIndex((l) => shownLine(s).test(l));
    if (i < 0) return false;
    lines.splice(i, 1);
    return true;
  });
}

/** A shell session: commands after `$ `, each followed by what it shows. */
function session(text: string): { command: string; shown: string[] }[] {
  const steps: { command: string; shown: string[] }[] = [];
  for (const line of text.split('\n').filter(Boolean)) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2).replace(/^sudo /, ''), shown: [] });
    else steps[steps.length - 1].shown.push(line);
  }
  return steps;
}

/**
 * Runs a session in one bash, in `cwd`: a command ending in `&` runs in the
 * background with its output in a file, and the next command waits until
 * what it shows is there. A foreground command's own output and what the
 * background ones print meanwhile must show what the session shows.
 */
async function runSession(text: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  const bash = spawn('bash', [], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  bash.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  bash.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const logs: string[] = [];
  const background = () => logs.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')).join('');
  const wait = async (what: () => string, shown: string[], step: string) => {
    const end = Date.now() + 30000;
    while (!shows(what(), shown)) {
      if (bash.exitCode !== null) throw new Error(`bash exited at: ${step}\n${out}`);
      if (Date.now() > end) throw new Error(`${step}\nshould show:\n${shown.join('\n')}\nbut printed:\n${what()}`);
      await sleep(100);
    }
  };
  try {
    let n = 0;
    for (const { command, shown } of session(text)) {
      n++;
      if (command.endsWith('&')) {
        const log = path.join(cwd, `background-${n}.log`);
        logs.push(log);
        bash.stdin.write(`${command.slice(0, -1)} > ${log} 2>&1 &\n`);
        await wait(() => fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '', shown, command);
        continue;
      }
      const before = background().length;
      const from = out.length;
      bash.stdin.write(`${command}\necho __done_${n}__\n`);
      await wait(() => (out.includes(`__done_${n}__`) ? out.slice(from) + background().slice(before) : ''), shown, command);
    }
    // Every step printed what the README shows (wait() throws otherwise), and there were steps.
    expect(n).toBeGreaterThan(0);
  } finally {
    bash.stdin.end('kill $(jobs -p) 2>/dev/null; wait\n');
    await new Promise((r) => bash.once('close', r));
  }
}

/** A program of the README as an ES module inside the package (so `import 'kprobe-node'` finds it). */
function moduleFile(code: string, name: string): string {
  const dir = path.join(repoRoot, '.cache', 'readme');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.mjs`);
  fs.writeFileSync(file, code);
  return file;
}

async function stop(child: Child | ChildProcess): Promise<void> {
  const proc = child instanceof Child ? child.proc : child;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(undefined) : proc.once('close', r)));
}

describeHost("the README's Metrics examples", { root: true, tracefs: true, tools: ['bash', 'curl', 'cat'] }, () => {
  const blocks = readmeBlocks('Metrics');
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-readme-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(path.join(repoRoot, 'scripts', 'kprobe-node'), path.join(bin, 'kprobe-node'));
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the section holds the examples this test runs', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['', 'yaml', '', 'js', '', 'js', 'js']);
  });

  test('--serve', async () => {
    const port = String(await freePort());
    await runSession(blocks[0].text.replaceAll('9464', port), dir, env);
  });

  test('kprobe-node serve, with the example config it shows', async () => {
    const example = fs.readFileSync(path.join(repoRoot, 'contrib', 'exporter', 'exporter.yaml'), 'utf8');
    // What the README shows of the config is the shipped file's, line for line.
    const lines = example.split('\n');
    let at = 0;
    for (const l of blocks[1].text.split('\n').filter(Boolean)) {
      at = lines.indexOf(l, at);
      expect(at >= 0 ? l : `missing: ${l}`).toBe(l);
    }
    const port = String(await freePort());
    const cwd = path.join(dir, 'exporter');
    fs.mkdirSync(path.join(cwd, 'contrib', 'exporter'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'contrib', 'exporter', 'exporter.yaml'), example.replaceAll('9464', port));
    await runSession(blocks[2].text.replaceAll('9464', port), cwd, env);
  });

  test('prometheus() prints what the README shows', async () => {
    const child = new Child(process.execPath, [moduleFile(blocks[3].text, 'prometheus')], { env });
    const { code } = await child.exited;
    expect(child.stderr).toBe('');
    expect(code).toBe(0);
    const shown = blocks[4].text.trimEnd().split('\n');
    const printed = child.stdout.trimEnd().split('\n');
    expect(printed).toHaveLength(shown.length);
    printed.forEach((l, i) => expect(l).toMatch(shownLine(shown[i])));
  });

  test('prom-client: the service\'s registry serves the kernel\'s metrics', async () => {
    const port = await freePort();
    const child = new Child(process.execPath, [moduleFile(blocks[5].text.replace('listen(9100)', `listen(${port})`), 'prom-client')], { env });
    try {
      let text = '';
      const end = Date.now() + 30000;
      while (!text.includes('fsync_latency_seconds_count')) {
        if (child.proc.exitCode !== null) throw new Error(`it exited: ${child.stderr}`);
        if (Date.now() > end) throw new Error(`nothing served: ${child.stderr}`);
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
        await sleep(200);
      }
      expect(text).toContain('# HELP file_opens_total Files opened, by command\n# TYPE file_opens_total counter\n');
      expect(text).toMatch(/^file_opens_total\{comm="[^"]+"\} \d+$/m);
      expect(text).toContain('# TYPE fsync_latency_seconds histogram\n');
      expect(text).toMatch(/^fsync_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    } finally {
      await stop(child);
    }
  });

  test('OpenTelemetry: counts and histograms reach an OTLP/HTTP receiver', async () => {
    const got: { name: string; sum?: unknown; exponentialHistogram?: { dataPoints: { scale?: number }[] } }[][] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { resourceMetrics: { scopeMetrics: { metrics: (typeof got)[number] }[] }[] };
        got.push(body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    const child = new Child(process.execPath, [moduleFile(blocks[6].text.replace('127.0.0.1:4318', `127.0.0.1:${port}`), 'otel')], { env });
    try {
      const end = Date.now() + 40000;
      while (!got.length) {
        if (child.proc.exitCode !== null) throw new Error(`it exited: ${child.stderr}`);
        if (Date.now() > end) throw new Error(`nothing exported: ${child.stderr}`);
        await sleep(200);
      }
      const names = got[0].map((m) => m.name);
      expect(names).toEqual(expect.arrayContaining(['file_opens', 'fsync_latency']));
      expect(got[0].find((m) => m.name === 'file_opens')?.sum).toBeDefined();
      expect(got[0].find((m) => m.name === 'fsync_latency')?.exponentialHistogram?.dataPoints[0].scale ?? 0).toBe(0);
    } finally {
      await stop(child);
      receiver.close();
    }
  });
});
