/**
 * Tracing as a non-root user with exactly CAP_BPF, CAP_PERFMON and
 * CAP_DAC_READ_SEARCH (for tracefs) works; with any one of them missing, the
 * error names the missing one. Each case runs a child node as uid 65534
 * through setpriv, with only those capabilities (ambient, so node keeps them).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeHost, repoRoot } from '../helpers/host';
import { run } from '../helpers/proc';

jest.setTimeout(30000);

const NOBODY = 65534;

const SCRIPT = `
const kn = require(process.argv[2]);
const caps = /^CapEff:\\s*(\\w+)$/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1];
console.log(JSON.stringify({ uid: process.getuid(), caps }));
try {
  const p = kn.attachTracepoint('syscalls:sys_enter_syncfs', { args: ['fd'] });
  p.on('event', (e) => {
    if (e.comm !== 'sync') return;
    console.log(JSON.stringify({ event: e.comm, fd: e.args.fd, uid: e.uid }));
    p.close();
  });
  setTimeout(() => require('child_process').execFileSync('sync', ['-f', '/']), 100);
  setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(3); }, 8000).unref();
} catch (e) {
  console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message }));
}`;

/** The package as uid 65534 can read it: the repository itself, or a copy in a temp dir. */
function packageForNobody(): string {
  const readable = (p: string) => {
    try {
      execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'test', '-r', p], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  };
  if (readable(path.join(repoRoot, 'dist', 'lib', 'index.js')) && readable(path.join(repoRoot, 'node_modules', 'yargs', 'package.json'))) {
    return path.join(repoRoot, 'dist', 'lib');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-nobody-'));
  fs.chmodSync(dir, 0o755);
  for (const p of ['package.json', 'dist/lib', 'dist/bpf', 'build/Release/kprobe_node.node', 'prebuilds', 'node_modules']) {
    const from = path.join(repoRoot, p);
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    execFileSync('cp', ['-a', from, path.join(dir, p)]);
  }
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return path.join(dir, 'dist', 'lib');
}

describeHost('capabilities', { root: true, tracefs: true, tools: ['setpriv', 'sync'] }, () => {
  let lib: string;
  let script: string;
  beforeAll(() => {
    lib = packageForNobody();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-caps-'));
    fs.chmodSync(dir, 0o755);
    script = path.join(dir, 'attach.js');
    fs.writeFileSync(script, SCRIPT, { mode: 0o644 });
  });

  async function asNobody(caps: string[]): Promise<Array<Record<string, unknown>>> {
    const set = caps.map((c) => `+${c}`).join(',') || '-all';
    const r = await run('setpriv', [
      `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups',
      `--inh-caps=-all${caps.length ? ',' + set : ''}`, `--ambient-caps=-all${caps.length ? ',' + set : ''}`,
      process.execPath, script, lib,
    ], { env: { PATH: process.env.PATH, HOME: '/' } });
    expect(r.stderr).toBe('');
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  }

  test('uid 65534 with CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH attaches and sees events', async () => {
    const [who, result] = await asNobody(['bpf', 'perfmon', 'dac_read_search']);
    // Exactly those three: CAP_DAC_READ_SEARCH (2), CAP_PERFMON (38), CAP_BPF (39).
    expect(who).toEqual({ uid: NOBODY, caps: '000000c000000004' });
    // The sync that the child ran is the child's user too.
    expect(result).toEqual({ event: 'sync', fd: expect.any(Number), uid: NOBODY });
  });

  test.each([
    [['perfmon', 'dac_read_search'], 'CAP_BPF', /missing: CAP_BPF\)/],
    [['bpf', 'dac_read_search'], 'CAP_PERFMON', /missing: CAP_PERFMON\)/],
    [['bpf', 'perfmon'], 'CAP_DAC_READ_SEARCH', /tracefs needs root or CAP_DAC_READ_SEARCH/],
  ])('without all of them (%j) the PermissionError names %s', async (caps, _missing, message) => {
    const [who, result] = await asNobody(caps);
    expect(who.uid).toBe(NOBODY);
    expect(result).toMatchObject({ name: 'PermissionError', code: 'EKN_PERMISSION' });
    expect(result.message).toMatch(message);
  });
});
