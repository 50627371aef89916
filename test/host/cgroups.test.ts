/**
 * cgroup v2 scope on the real kernel, with cgroups made by the test under
 * the cgroup2 mount (at /sys/fs/cgroup/unified on hybrid machines) and
 * processes moved into them: the filter keeps the cgroup and its
 * descendants only, events carry the cgroup id (the directory's inode) and
 * the container id a `docker-<id>.scope` names, counting by cgroup and by
 * container, the CLI, and a cgroup removed while its probe is attached.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NotFoundError, OptionError, TraceEvent, attachSyscall, countBy } from '../../lib';
import { Session } from '../../lib/core/session';
import { collect, errorOf } from '../helpers/events';
import { cgroup2Mount, describeHost, distLib } from '../helpers/host';
import { runCli, sleep, until } from '../helpers/proc';

jest.setTimeout(60000);

const hex = (seed: string) => seed.repeat(64).slice(0, 64);
const A = hex('a1b2c3d4e5f6');
const B = hex('0f9e8d7c6b5a');

describeHost('cgroups', { root: true, tracefs: true }, () => {
  const mount = cgroup2Mount();
  let parent: string;
  let tmp: string;
  let comm: string;
  let cat: string;
  const files = { inParent: '', inA: '', inB: '', outside: '' };
  const made: string[] = [];

  /** A cgroup under the test's own, removed after the tests. */
  function cgroup(name: string): string {
    const dir = path.join(parent, name);
    fs.mkdirSync(dir);
    made.push(dir);
    return dir;
  }

  /** Runs `cat <file>` (under the test's comm) in cgroup `dir`: moved there before it execs; resolves with its pid once it exited. */
  function runIn(dir: string | undefined, file: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', 'read go; exec "$0" "$1" > /dev/null', cat, file], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(child.pid as number) : reject(new Error(`${cat} ${file} exited ${code}`))));
      if (dir) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
      child.stdin!.end('go\n');
    });
  }

  const ino = (dir: string) => fs.statSync(dir).ino;
  const opened = (events: TraceEvent[], file: string) => events.filter((e) => (e.args as { filename?: string }).filename === file);

  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(mount, `kn-test-${process.pid}-`));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-cgroup-'));
    comm = `kncg${Math.random().toString(36).slice(2, 10)}`;
    cat = path.join(tmp, comm);
    fs.copyFileSync('/bin/cat', cat);
    fs.chmodSync(cat, 0o755);
    for (const k of Object.keys(files) as Array<keyof typeof files>) {
      files[k] = path.join(tmp, k);
      fs.writeFileSync(files[k], `${k}\n`);
    }
  });

  afterAll(async () => {
    for (const dir of [...made.reverse(), parent]) {
      // Processes still in it (a failed test) go back to the parent first.
      try {
        for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          fs.writeFileSync(path.join(mount, 'cgroup.procs'), pid);
        }
        fs.rmdirSync(dir);
      } catch {
        // gone already
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('only tasks in the cgroup or below it; cgroupId is the directory\'s inode; docker-<id>.scope gives containerId', async () => {
    const a = cgroup(`docker-${A}.scope`);
    const probe = attachSyscall('openat', { cgroup: parent });
    const events = collect(probe);
    const [pParent, pA, pOut] = await Promise.all([runIn(parent, files.inParent), runIn(a, files.inA), runIn(undefined, files.outside)]);
    await until(() => opened(events, files.inParent).length > 0 && opened(events, files.inA).length > 0);
    probe.close();
    expect(opened(events, files.outside)).toEqual([]);
    expect(new Set(events.map((e) => e.pid))).toEqual(new Set([pParent, pA]));
    const [inParent] = opened(events, files.inParent);
    expect({ cgroupId: inParent.cgroupId, containerId: inParent.containerId }).toEqual({ cgroupId: ino(parent), containerId: undefined });
    const [inA] = opened(events, files.inA);
    expect({ cgroupId: inA.cgroupId, containerId: inA.containerId }).toEqual({ cgroupId: ino(a), containerId: A });
    // Not seen, but it ran: the filter, not the timing, kept it out.
    expect(pOut).toBeGreaterThan(0);
    // toJSON carries them too.
    expect(inA.toJSON()).toMatchObject({ cgroupId: ino(a), containerId: A, pid: pA });
  });

  test('the same cgroup by id, and by its path as /proc/<pid>/cgroup shows it', async () => {
    const b = cgroup(`docker-${B}.scope`);
    const rel = `/${path.relative(mount, b)}`;
    const byId = attachSyscall('openat', { cgroup: ino(b) });
    const byPath = attachSyscall('openat', { cgroup: rel });
    const [ei, ep] = [collect(byId), collect(byPath)];
    const [pid] = await Promise.all([runIn(b, files.inB), runIn(undefined, files.outside)]);
    await until(() => opened(ei, files.inB).length > 0 && opened(ep, files.inB).length > 0);
    byId.close();
    byPath.close();
    for (const events of [ei, ep]) {
      expect(opened(events, files.outside)).toEqual([]);
      expect(events.every((e) => e.pid === pid && e.cgroupId === ino(b))).toBe(true);
    }
  });

  test("'self': a service moved into a cgroup sees itself and its children, not the rest", async () => {
    const dir = cgroup('service');
    const script = `
      const { attachSyscall } = require(${JSON.stringify(distLib)});
      const probe = attachSyscall('openat', { cgroup: 'self' });
      const files = new Set();
      probe.on('event', (ev) => files.add(ev.args.filename));
      console.log('ready');
      process.stdin.once('data', () => {
        require('fs').readFileSync(${JSON.stringify(files.inParent)});
        require('child_process').execFileSync(${JSON.stringify(cat)}, [${JSON.stringify(files.inA)}]);
        setTimeout(() => { probe.close(); console.log(JSON.stringify([...files])); process.exit(0); }, 300);
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    // Moved in before it attaches: 'self' is read at attach.
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    await until(() => out.includes('ready'), 15000);
    await runIn(undefined, files.outside);
    child.stdin!.end('go\n');
    await new Promise((r) => child.on('exit', r));
    const seen = JSON.parse(out.trim().split('\n').pop() as string) as string[];
    expect(seen).toEqual(expect.arrayContaining([files.inParent, files.inA]));
    expect(seen).not.toContain(files.outside);
  });

  test('counting by container and by cgroup, in the kernel', async () => {
    const a = path.join(parent, `docker-${A}.scope`);
    const b = path.join(parent, `docker-${B}.scope`);
    if (!fs.existsSync(a)) cgroup(`docker-${A}.scope`);
    if (!fs.existsSync(b)) cgroup(`docker-${B}.scope`);
    const byContainer = countBy('syscall:openat', { by: 'container', cgroup: parent });
    const byCgroup = countBy('syscall:openat', { by: 'cgroup', cgroup: parent });
    await runIn(a, files.inA);
    await runIn(a, files.inA);
    await runIn(b, files.inB);
    await runIn(parent, files.inParent);
    const containers = byContainer.snapshot();
    const cgroups = byCgroup.snapshot();
    byContainer.close();
    byCgroup.close();
    const count = (key: string | number) => containers.concat(cgroups).find((e) => e.key === key)?.count ?? 0;
    expect(containers.map((e) => [e.key, e.label]).sort()).toEqual([['', '(none)'], [A, A.slice(0, 12)], [B, B.slice(0, 12)]].sort());
    // Two runs in A, one in B (sh's own start-up opens count or not, as it is moved in before or after them).
    expect(count(A)).toBeGreaterThan(count(B));
    expect(count(B)).toBeGreaterThan(0);
    expect(cgroups.map((e) => [e.key, e.label]).sort()).toEqual(
      [parent, a, b].map((d) => [ino(d), `/${path.relative(mount, d)}`]).sort(),
    );
    expect(count(ino(a))).toBe(count(A));
  });

  test('CLI: --cgroup with --json carries cgroupId and containerId; --count by=container', async () => {
    const a = path.join(parent, `docker-${A}.scope`);
    if (!fs.existsSync(a)) cgroup(`docker-${A}.scope`);
    const command = `sh -c 'echo $$ > ${a}/cgroup.procs; exec ${cat} ${files.inA} > /dev/null'`;
    const r = await runCli(['--syscall', 'openat', '--cgroup', parent, '--json', '-c', command]);
    const events = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(events.length).toBeGreaterThan(0);
    // sh once it moved itself (its redirection), then cat: all in the container's cgroup.
    expect(events.every((e) => e.cgroupId === ino(a) && e.containerId === A)).toBe(true);
    expect(events.map((e) => e.comm)).toContain(comm);
    const c = await runCli(['--syscall', 'openat', '--cgroup', parent, '--count', 'by=container', '-c', command]);
    expect(c.stdout).toMatch(new RegExp(`^\\s+COUNT  PROBE CONTAINER\\n\\s+\\d+  syscall:openat ${A.slice(0, 12)}\\n$`));
  });

  test('bad cgroups are typed errors', () => {
    expect(errorOf(() => attachSyscall('openat', { cgroup: path.join(parent, 'no-such') }))).toBeInstanceOf(NotFoundError);
    expect(errorOf(() => attachSyscall('openat', { cgroup: '/no/such/cgroup' }))).toBeInstanceOf(NotFoundError);
    expect(errorOf(() => attachSyscall('openat', { cgroup: 0x7ffffff0 }))).toBeInstanceOf(NotFoundError);
    const e = errorOf(() => attachSyscall('openat', { cgroup: tmp }));
    expect(e).toBeInstanceOf(OptionError);
    expect(e.message).toContain(`is not in the cgroup v2 hierarchy, which is mounted at ${mount}`);
    // A v1 controller's directory beside it (hybrid machines) is not a v2 cgroup either.
    const v1 = '/sys/fs/cgroup/memory';
    if (mount !== '/sys/fs/cgroup' && fs.existsSync(v1)) expect(errorOf(() => attachSyscall('openat', { cgroup: v1 }))).toBeInstanceOf(OptionError);
  });

  test('a cgroup removed while its probe is attached: the probe keeps running, closing releases the cgroup and every fd', async () => {
    const holder = cgroup('holder');
    const gone = cgroup('gone');
    made.splice(made.indexOf(gone), 1);
    const keep = attachSyscall('openat', { comm }); // the session is loaded before counting fds
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const dying = () => Number(/^nr_dying_descendants (\d+)$/m.exec(fs.readFileSync(path.join(parent, 'cgroup.stat'), 'utf8'))?.[1]);
    const before = fds();
    const probe = attachSyscall('openat', { cgroup: gone });
    const errors: Error[] = [];
    probe.on('error', (e) => errors.push(e));
    const events = collect(probe);
    await runIn(gone, files.inA);
    await until(() => opened(events, files.inA).length > 0);
    fs.rmdirSync(gone);
    // The kernel's map still holds the removed cgroup: it is dying, not freed.
    expect(dying()).toBeGreaterThanOrEqual(1);
    await runIn(holder, files.inB);
    await sleep(200);
    probe.flush();
    expect(opened(events, files.inB)).toEqual([]);
    expect(errors).toEqual([]);
    expect(probe.closed).toBe(false);
    probe.close();
    expect(fds()).toBe(before);
    keep.close();
    expect(await until(() => dying() === 0, 10000)).toBe(true);
    expect(Session.get().info().links).toBe(0);
  });
});
