/**
 * Tracing as a non-root user with exactly CAP_BPF, CAP_PERFMON and
 * CAP_DAC_READ_SEARCH (for tracefs) works; with any one of them missing, the
 * error names the missing one. Each case runs a child node as uid 65534
 * through setpriv, with only those capabilities (ambient, so node keeps them).
 *
 * The README's least-privilege recipes, as far as this machine goes: its
 * systemd unit (verified by systemd-analyze, then what it sets applied by
 * setpriv, as systemd would), its container command (the namespaces,
 * Docker's default capabilities plus the ones it adds, the tracefs volume,
 * made by hand), and a user namespace, which cannot trace.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tracefs } from '../../lib/sys/tracefs';
import { describeHost, repoRoot } from '../helpers/host';
import { run } from '../helpers/proc';
import { compileExample, readmeBlocks, unmatched } from '../helpers/readme';

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

/** Docker's default capabilities (moby's oci/caps/defaults.go), which a container run starts from. */
const DOCKER_DEFAULT_CAPS = ['chown', 'dac_override', 'fsetid', 'fowner', 'mknod', 'net_raw', 'setgid', 'setuid', 'setfcap', 'setpcap', 'net_bind_service', 'sys_chroot', 'kill', 'audit_write'];

describeHost("the README's least-privilege recipes", { root: true, tracefs: true, tools: ['setpriv', 'unshare', 'systemd-analyze', 'sync'] }, () => {
  const blocks = readmeBlocks('Containers and services');
  const unit = blocks.find((b) => b.lang === 'ini')?.text ?? '';
  const docker = blocks.find((b) => b.text.startsWith('docker run '))?.text.trim() ?? '';
  const pidExample = blocks.find((b) => b.lang === 'ts')?.text ?? '';
  const shown = blocks[blocks.findIndex((b) => b.text === pidExample) + 1]?.text ?? '';
  let lib: string;
  let dir: string;
  beforeAll(() => {
    lib = packageForNobody();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-recipes-'));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'attach.js'), SCRIPT, { mode: 0o644 });
    tracefs(); // mounted on the host, as the container recipe expects
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The unit's settings: `Key=value` lines of [Service]. */
  const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1].trim() ?? '';
  /** `CAP_BPF CAP_PERFMON` as setpriv's `+bpf,+perfmon`. */
  const capList = (caps: string[]) => caps.map((c) => `+${c.replace(/^CAP_/i, '').toLowerCase()}`).join(',');

  test('the systemd unit: systemd-analyze verifies it and knows its capabilities; what it sets lets uid 65534 trace', async () => {
    const file = path.join(dir, 'kn-readme-app.service');
    // The unit as written, but for where node is on this machine.
    fs.writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
    const verify = await run('systemd-analyze', ['verify', file]);
    expect([verify.code, verify.stderr]).toEqual([0, '']);
    const known = (await run('systemd-analyze', ['capability'])).stdout;
    const ambient = setting('AmbientCapabilities').split(/\s+/);
    const bounding = setting('CapabilityBoundingSet').split(/\s+/);
    expect(ambient).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_DAC_READ_SEARCH']);
    for (const cap of [...ambient, ...bounding]) expect(known).toMatch(new RegExp(`^${cap.toLowerCase()}\\s+\\d+$`, 'm'));
    expect(setting('NoNewPrivileges')).toBe('yes');
    // What systemd does with them: a user of its own (65534 here), those ambient capabilities, that bounding set, no new privileges.
    const r = await run('setpriv', [
      `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs',
      `--bounding-set=-all,${capList(bounding)}`, `--inh-caps=-all,${capList(ambient)}`, `--ambient-caps=-all,${capList(ambient)}`,
      process.execPath, path.join(dir, 'attach.js'), lib,
    ], { env: { PATH: process.env.PATH, HOME: '/' } });
    expect(r.stderr).toBe('');
    const [who, result] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(who).toEqual({ uid: NOBODY, caps: '000000c000000004' });
    expect(result).toEqual({ event: 'sync', fd: expect.any(Number), uid: NOBODY });
  });

  /**
   * `docker run` as this machine can make it: PID, mount and cgroup
   * namespaces, root with Docker's default capabilities and the added ones,
   * /proc of its own, and the -v volume (the host's tracefs, read-only) or,
   * without it, no tracefs at all; then the README's PID namespace example
   * as the service.
   */
  async function container(withVolume: boolean) {
    const added = [...docker.matchAll(/--cap-add (\w+)/g)].map((m) => m[1].toLowerCase());
    const volume = /-v (\S+):(\S+):ro/.exec(docker);
    expect(added).toEqual(['bpf', 'perfmon']);
    expect(volume?.slice(1)).toEqual(['/sys/kernel/tracing', '/sys/kernel/tracing']);
    const js = compileExample(pidExample);
    const caps = [...DOCKER_DEFAULT_CAPS, ...added].map((c) => `+${c}`).join(',');
    const mounts = withVolume ? `mount -o remount,bind,ro ${volume![2]}` : `mount -t tmpfs none ${volume![2]}`;
    const script = `set -e; mount --make-rprivate /; ${mounts}; exec setpriv --bounding-set=-all,${caps} --inh-caps=-all ${process.execPath} ${js}`;
    return run('unshare', ['--pid', '--fork', '--mount-proc', '--cgroup', 'sh', '-c', script], { timeoutMs: 30000 });
  }

  test('the container command: Docker\'s capabilities plus BPF and PERFMON, and the tracefs volume, run the PID namespace example', async () => {
    const r = await container(true);
    expect(r.stderr).toBe('');
    expect(unmatched(shown, r.stdout)).toEqual([]);
    expect(r.stdout).toMatch(/^pid 1 \(host \d+\) opened \/etc\/hostname$/m);
  });

  test('the same container without the tracefs volume: the PermissionError names the volume to add', async () => {
    const r = await container(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('PermissionError: tracefs is not mounted and mounting it failed');
    expect(r.stderr).toContain("in a container, mount the host's: docker run -v /sys/kernel/tracing:/sys/kernel/tracing:ro");
  });

  test('a user namespace (a rootless container): a PermissionError that says its capabilities do not count', async () => {
    const script = `try { require(${JSON.stringify(path.join(repoRoot, 'dist', 'lib'))}).attachSyscall('openat'); console.log('attached'); } ` +
      'catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }';
    const r = await run('unshare', ['--user', '--map-root-user', process.execPath, '-e', script]);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: 'PermissionError', code: 'EKN_PERMISSION' });
    expect(out.message).toMatch(/^this process runs in a user namespace .*capabilities there do not count for BPF/);
  });
});
