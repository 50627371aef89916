/**
 * Wildcards, compiler clones and module functions on a kernel with kprobes
 * (the test VM, Debian's 6.1 kernel).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NotFoundError, TraceEvent, attachKprobe, describe as describeTarget, listFunctions } from '../../lib';
import type { Probe } from '../../lib';
import { fuseOpenFunction } from '../helpers/kernel-text';

jest.setTimeout(90_000);

const cli = path.resolve(__dirname, '../../lib/cli/main.js');
const kallsyms = () => fs.readFileSync('/proc/kallsyms', 'utf8');

/** Collects events of `probe` from process `pid` until `done` holds or time runs out. */
async function collect(probe: Probe, run: () => number, done: (evs: TraceEvent[]) => boolean, ms = 15_000): Promise<TraceEvent[]> {
  const seen: TraceEvent[] = [];
  const pids = new Set<number>();
  probe.on('event', (ev) => seen.push(ev));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    pids.add(run());
    await new Promise((r) => setTimeout(r, 200));
    const mine = seen.filter((ev) => pids.has(ev.pid));
    if (done(mine)) return mine;
  }
  return seen.filter((ev) => pids.has(ev.pid));
}

test("attachKprobe('vfs_[rw][er][ai][dt]*') attaches every match; events name the function they came from", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-wild-'));
  const file = path.join(dir, 'f');
  // vfs_fsync* would do too, but on 6.1 fsync reaches vfs_fsync_range with vfs_fsync inlined: one function fires.
  const probe = attachKprobe('vfs_[rw][er][ai][dt]*');
  try {
    expect(probe.strategy).toMatch(/^kprobe \d+ functions$/);
    expect(probe.explain).toMatch(/matches \d+ functions/);
    expect(probe.explain).toMatch(/strategy: (one kprobe_multi link|\d+ kprobes, one per function)/);
    const script = `const fs=require('fs');fs.writeFileSync(${JSON.stringify(file)},'x');fs.readFileSync(${JSON.stringify(file)});`;
    const evs = await collect(
      probe,
      () => spawnSync(process.execPath, ['-e', script]).pid as number,
      (mine) => ['kprobe:vfs_read', 'kprobe:vfs_write'].every((n) => mine.some((e) => e.probe === n)),
    );
    const names = [...new Set(evs.map((e) => e.probe))].sort();
    expect(names).toEqual(expect.arrayContaining(['kprobe:vfs_read', 'kprobe:vfs_write']));
    for (const n of names) expect(n).toMatch(/^kprobe:vfs_(read|write)/);
    // Each function's own prototype.
    const read = evs.find((e) => e.probe === 'kprobe:vfs_read') as TraceEvent;
    expect(Object.keys(read.args)).toEqual(['file', 'buf', 'count', 'pos']);
  } finally {
    probe.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a function that exists only as a compiler clone is attached through the clone, and says so', async () => {
  const text = kallsyms();
  const has = (n: string) => new RegExp(` [tT] ${n.replace(/\./g, '\\.')}(\\t|$)`, 'm').test(text);
  // __do_pipe_flags runs on every pipe(); any other clone-only function proves the naming at least.
  const candidates = ['__do_pipe_flags', 'vfs_kern_mount', 'find_alive_thread', 'membuf_write'];
  const base = candidates.find((n) => !has(n) && /\.(part|isra|constprop)\.\d+/.test(text.match(new RegExp(` [tT] ${n}\\.\\S+`))?.[0] ?? ''));
  expect(base).toBeDefined();
  const probe = attachKprobe(base as string);
  try {
    const clone = (probe.strategy.match(/^kprobe (\S+)$/) ?? [])[1];
    expect(clone).toMatch(new RegExp(`^${base}\\.(isra|constprop|part)\\.\\d+$`));
    expect(probe.warnings.join('\n')).toMatch(new RegExp(`${base} is not in kallsyms, its compiler clone.*attached to ${clone.replace(/\./g, '\\.')}`));
    expect(probe.explain).toMatch(/specialised it into/);
    if (base === '__do_pipe_flags') {
      const evs = await collect(probe, () => spawnSync('/bin/sh', ['-c', 'echo x | cat'], { stdio: 'ignore' }).pid as number, (m) => m.length > 0);
      expect(evs.length).toBeGreaterThan(0);
      expect(evs[0].probe).toBe(`kprobe:${clone}`);
    }
  } finally {
    probe.close();
  }
});

test('a function of a module that is not loaded: the error names the module to load', () => {
  // cuse (beside fuse in fs/fuse) is loaded by nothing here.
  if (/^cuse /m.test(fs.readFileSync('/proc/modules', 'utf8'))) spawnSync('rmmod', ['cuse']);
  let err: unknown;
  try {
    attachKprobe('cuse_open').close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NotFoundError);
  // The module's symbol table confirms it where the file is plain ELF; a compressed one (cuse.ko.xz, as newer
  // Debian kernels ship) is not read, and the name's prefix only suggests the module.
  const dep = fs.readFileSync(`/lib/modules/${os.release()}/modules.dep`, 'utf8');
  const file = /^(\S*\/cuse\.ko\S*):/m.exec(dep)?.[1];
  expect(file).toBeDefined();
  const where = file?.endsWith('.ko') ? 'it is in module cuse' : 'it may be in module cuse';
  expect((err as Error).message).toContain(`no kernel function cuse_open in the running kernel or a loaded module; ${where}, which is not loaded: load it (modprobe cuse)`);
});

test("kprobe-node 'fuse_*' through bindfs: many functions attached, events from several", () => {
  execFileSync('modprobe', ['fuse']);
  const source = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-wfuse-src-'));
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-wfuse-mnt-'));
  fs.writeFileSync(path.join(source, 'hello.txt'), 'hello\n');
  execFileSync('bindfs', [source, mnt]);
  try {
    // Attaching every fuse_* function in the emulated VM takes seconds on a quiet host, minutes on a busy one.
    const r = spawnSync(process.execPath, [cli, 'fuse_*', '--explain', '--comm', 'cat', '-c', `cat ${mnt}/hello.txt`], { encoding: 'utf8', timeout: 170_000 });
    expect(r.stderr).toMatch(/fuse_\*: attached (\d+) of (\d+) functions, (\d+) skipped/);
    const [, attached, total] = /attached (\d+) of (\d+)/.exec(r.stderr) as RegExpExecArray;
    expect(Number(attached)).toBeGreaterThan(20);
    expect(Number(attached)).toBeLessThanOrEqual(Number(total));
    expect(r.status).toBe(0);
    const fns = new Set(r.stdout.split('\n').map((l) => / kprobe:(fuse_\w+)/.exec(l)?.[1]).filter(Boolean));
    expect(fns.size).toBeGreaterThanOrEqual(2);
    expect(fns.has(fuseOpenFunction())).toBe(true);
  } finally {
    spawnSync('umount', [mnt]);
  }
}, 180_000);

/** Whether BTF gives `fn` a parameter named `param` (describe() fails for functions without BTF). */
function hasParam(fn: string, param: string): boolean {
  try {
    return describeTarget(fn).params.some((p) => p.name === param);
  } catch {
    return false;
  }
}

test('a wildcard skips the matches an argument does not fit, names them in probe.skipped, and reports progress', async () => {
  const pattern = 'vfs_[rw]*';
  const matched = listFunctions(pattern).map((f) => f.name);
  // vfs_read has a count, vfs_rename has none: both kinds must be among the matches.
  const unfit = matched.filter((f) => !hasParam(f, 'count'));
  const fit = matched.length - unfit.length;
  expect(unfit).toContain('vfs_rename');
  expect(fit).toBeGreaterThan(1);
  const progress: Array<[number, number]> = [];
  const probe = attachKprobe(pattern, { args: ['count'], pid: process.pid, onProgress: (done, total) => progress.push([done, total]) });
  try {
    expect(probe.strategy).toBe(`kprobe ${matched.length} functions`);
    expect(probe.skipped.map((s) => s.name).sort()).toEqual([...unfit].sort());
    for (const s of probe.skipped) expect(s.reason).toMatch(/count/);
    expect(probe.warnings).toContain(`${unfit.length} of ${matched.length} functions could not be attached and were skipped (probe.skipped says why)`);
    // Progress counts what is attached, and ends with all of it.
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toEqual([fit, fit]);
    for (let i = 0; i < progress.length; i++) {
      expect(progress[i][1]).toBe(fit);
      if (i) expect(progress[i][0]).toBeGreaterThan(progress[i - 1][0]);
    }
    // What is attached fires, with the argument.
    const seen: TraceEvent[] = [];
    probe.on('event', (ev: TraceEvent) => seen.push(ev));
    const file = path.join(os.tmpdir(), `kn-skip-${process.pid}`);
    fs.writeFileSync(file, 'z'.repeat(10));
    for (let i = 0; i < 50 && !seen.some((e) => e.probe === 'kprobe:vfs_read' && BigInt(e.args.count as bigint) === 4321n); i++) {
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, Buffer.alloc(4321), 0, 4321, 0);
      fs.closeSync(fd);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen.find((e) => e.probe === 'kprobe:vfs_read' && BigInt(e.args.count as bigint) === 4321n)?.args).toEqual({ count: 4321n });
  } finally {
    probe.close();
  }

  // The command line says the same, with each skipped function and why under --explain.
  const r = spawnSync(process.execPath, [cli, pattern, '--arg', 'count', '--explain', '--duration', '0.2'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status).toBe(0);
  expect(r.stderr).toContain(`kprobe-node: ${pattern}: attached ${fit} of ${matched.length} functions, ${unfit.length} skipped\n`);
  const listed = [...r.stderr.matchAll(/^kprobe-node: {3}skipped (\S+): .*count/gm)].map((m) => m[1]).sort();
  expect(listed).toEqual([...unfit].sort());
}, 180_000);
