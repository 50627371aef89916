/**
 * The README's "Containers and services" examples, run where they say they
 * run: the PID namespace example under `unshare -p -f --mount-proc`, the
 * cgroup examples with a process in a `docker-<id>.scope` cgroup made here,
 * the service example until SIGTERM. Each prints what the README shows.
 * (The systemd unit and the docker command are run by capabilities.test.ts.)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { cgroup2Mount, describeHost } from '../helpers/host';
import { Child, cliPath, run, sleep } from '../helpers/proc';
import { Block, compileExample, readmeBlocks, unmatched } from '../helpers/readme';

jest.setTimeout(120000);

describeHost('README: Containers and services', { root: true, tracefs: true, tools: ['unshare'] }, () => {
  const blocks = readmeBlocks('Containers and services');
  const ts = blocks.filter((b) => b.lang === 'ts');
  /** The block right after `b`: what it prints. */
  const output = (b: Block) => blocks[blocks.indexOf(b) + 1].text;
  const commands = blocks.find((b) => b.lang === '' && b.text.startsWith('$ sudo kprobe-node')) as Block;

  // The container of the examples: the id the README's JSON line shows, under /system.slice.
  const shownJson = JSON.parse(commands.text.split('\n').find((l) => l.startsWith('{')) as string);
  const id: string = shownJson.containerId;
  const mount = cgroup2Mount();
  const slice = path.join(mount, 'system.slice');
  const scope = path.join(slice, `docker-${id}.scope`);
  let madeSlice = false;

  beforeAll(() => {
    madeSlice = !fs.existsSync(slice);
    fs.mkdirSync(scope, { recursive: true });
  });
  afterAll(() => {
    for (const dir of [scope, ...(madeSlice ? [slice] : [])]) {
      for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        fs.writeFileSync(path.join(mount, 'cgroup.procs'), pid);
      }
      fs.rmdirSync(dir);
    }
  });

  /** `cat /etc/hostname` in the container's cgroup (moved there before it execs). */
  const catInContainer = () => run('sh', ['-c', `echo $$ > ${scope}/cgroup.procs; exec cat /etc/hostname`]);

  /** Opens files in the container and outside it, every 300 ms, until `running` settles or `enough` holds (attaching takes a while on a busy machine). */
  async function openWhile(running: Promise<unknown>, enough: () => boolean = () => false): Promise<void> {
    let done = false;
    void running.finally(() => (done = true));
    while (!done && !enough()) {
      await catInContainer();
      await run('cat', ['/etc/hostname']);
      await sleep(300);
    }
  }

  test('the section has the examples this file runs', () => {
    expect(ts).toHaveLength(3);
    expect(blocks.filter((b) => b.lang === 'ini')).toHaveLength(1);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  test('PID namespaces: run in one, the service sees its own pid 1, with its host pid', async () => {
    const js = compileExample(ts[0].text);
    const c = new Child('unshare', ['-p', '-f', '--mount-proc', process.execPath, js]);
    await c.waitFor(/opened/);
    const host = Number(fs.readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8'));
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(unmatched(output(ts[0]), c.stdout)).toEqual([]);
    expect(c.stdout).toBe(`pid 1 (host ${host}) opened /etc/hostname\n`);
  });

  test('cgroups, command line: --count by=container, and --cgroup with --json', async () => {
    const [count, json] = commands.text.split(/^(?=\$ )/m);
    const argv = (line: string) => line.split('\n')[0].replace('$ sudo kprobe-node ', '').replace('<id>', id).split(' ');
    // Counting (for its 5 s) while the container and a process outside it open files.
    const counting = run(process.execPath, [cliPath, ...argv(count)], { timeoutMs: 60000 });
    await openWhile(counting);
    const counted = await counting;
    expect(counted.stderr).toMatch(/kprobe-node: \d+ events, 0 lost/);
    expect(unmatched(count.split('\n').slice(1).join('\n'), counted.stdout)).toEqual([]);

    const cli = new Child(process.execPath, [cliPath, ...argv(json)]);
    await openWhile(cli.exited, () => cli.stdout.includes('"/etc/hostname"'));
    cli.kill('SIGINT');
    await cli.exited;
    const line = JSON.parse(cli.stdout.split('\n').find((l) => l.includes('"/etc/hostname"')) as string);
    // The same fields, in the same order, of the same types; the ids are the container's.
    expect(Object.keys(line)).toEqual(Object.keys(shownJson));
    for (const k of Object.keys(line)) expect([k, typeof line[k]]).toEqual([k, typeof shownJson[k]]);
    expect(line).toMatchObject({ comm: 'cat', containerId: id, cgroupId: fs.statSync(scope).ino, args: shownJson.args });
  });

  test('cgroups, API: the service in the container sees its own cat, and counts by container', async () => {
    const js = compileExample(ts[1].text);
    // Started in the container's cgroup, as its own process 1 would be.
    const service = run('sh', ['-c', `echo $$ > ${scope}/cgroup.procs; exec ${process.execPath} ${js}`], { timeoutMs: 30000 });
    // Outside it meanwhile: counted as (none), never seen by the 'self' probe.
    await openWhile(service);
    const r = await service;
    expect(r.stderr).toBe('');
    expect(unmatched(output(ts[1]), r.stdout)).toEqual([]);
    expect(r.stdout.split('\n')[0]).toBe(`cat ${fs.statSync(scope).ino} ${id.slice(0, 12)}`);
  });

  test('service manners: channels, using, and a signal that ends it all on SIGTERM', async () => {
    const js = compileExample(ts[2].text);
    const c = new Child(process.execPath, [js]);
    await c.waitFor(/^attach syscall:execve$/m, 20000);
    execFileSync('/usr/bin/true');
    await c.waitFor(/^exec \/usr\/bin\/true$/m);
    c.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(c.stderr).toBe('');
    expect(unmatched(output(ts[2]), c.stdout)).toEqual([]);
    expect(Number(/^ls opened (\d+) files$/m.exec(c.stdout)?.[1])).toBeGreaterThan(0);
  });
});
