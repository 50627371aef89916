/**
 * How the session loads its BPF object: only the program the first probe
 * needs is verified, the other loads when first attached (on the same maps
 * and ring); a load started early on a native thread (Session.preload, as the
 * CLI does) is waited for at the first attach, and its failure is reported
 * there as a typed error; detaching in the background (the CLI, as it exits)
 * hands the links to a kernel worker, which frees them while the process goes
 * on. Each case runs in a child: a session is per process.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { bpfObjectsOf, stillLoaded } from '../helpers/bpf-objects';
import { describeHost, distLib } from '../helpers/host';
import { Child, run, until } from '../helpers/proc';
import { uprogFixture } from '../helpers/uprog';

jest.setTimeout(30000);

async function runScript(script: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, ['-e', script], { env, timeoutMs: 15000 });
  if (r.code !== 0) throw new Error(`child exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describeHost('session loading', { root: true, tracefs: true, tools: ['gcc', 'sync', 'bpftool'] }, () => {
  const uprog = uprogFixture();

  test('a tracepoint loads only the tracepoint program; a uprobe then loads the kprobe program, and both deliver', async () => {
    const out = await runScript(`
      const { execFileSync } = require('child_process');
      const { attachTracepoint, attachUprobe } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'core', 'session.js'))});
      const got = { tracepoint: 0, uprobe: 0 };
      const tp = attachTracepoint('syscalls:sys_enter_syncfs');
      tp.on('event', (e) => { if (e.comm === 'sync') got.tracepoint++; });
      const before = Session.get().info();
      const up = attachUprobe(${JSON.stringify(uprog.exe)}, 'kn_add', { args: ['a=arg0:s32'] });
      up.on('event', (e) => { if (e.args.a === 20) got.uprobe++; });
      const after = Session.get().info();
      execFileSync(${JSON.stringify(uprog.exe)});
      execFileSync('sync', ['-f', '/']);
      setTimeout(() => {
        Session.get().flush();
        console.log(JSON.stringify({ before, after, got }));
        process.exit(0);
      }, 200);`);
    const before = out.before as { kprobeProgram: number; tracepointProgram: number };
    const after = out.after as { kprobeProgram: number; tracepointProgram: number };
    expect(before.tracepointProgram).toBeGreaterThan(0);
    expect(before.kprobeProgram).toBe(0);
    expect(after.kprobeProgram).toBeGreaterThan(0);
    expect(after.tracepointProgram).toBe(before.tracepointProgram);
    expect(out.got).toEqual({ tracepoint: 1, uprobe: 1 });
  });

  test('a preloaded session is used by the first attach', async () => {
    const out = await runScript(`
      const { attachTracepoint } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'core', 'session.js'))});
      Session.preload('kn_tracepoint');
      const preloaded = Session.get();
      const tp = attachTracepoint('syscalls:sys_enter_syncfs');
      console.log(JSON.stringify({ same: Session.get() === preloaded, info: Session.get().info() }));
      tp.close();`);
    expect(out.same).toBe(true);
    expect((out.info as { tracepointProgram: number }).tracepointProgram).toBeGreaterThan(0);
  });

  test('a preload that fails is reported, typed, at the first attach, and again at the next', async () => {
    // The kernel refuses a count map of 2^31 entries (too many hash buckets), before allocating any.
    const out = await runScript(
      `
      const { attachTracepoint } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'core', 'session.js'))});
      Session.preload('kn_tracepoint');
      const errors = [];
      for (let i = 0; i < 2; i++) {
        try { attachTracepoint('syscalls:sys_enter_syncfs'); } catch (e) { errors.push({ name: e.constructor.name, code: e.code, errno: e.errno, message: e.message }); }
      }
      console.log(JSON.stringify({ errors }));`,
      { ...process.env, KPROBE_NODE_MAX_COUNTS: String(2 ** 31) },
    );
    const errors = out.errors as Array<{ name: string; code: string; errno: string; message: string }>;
    expect(errors).toHaveLength(2);
    for (const e of errors) {
      expect(e.name).toBe('SystemError');
      expect(e.errno).toBe('E2BIG');
      expect(e.message).toMatch(/^load the BPF programs: /);
    }
  });

  test('detachInBackground: close() disables and lets go of the links at once; a kernel worker frees them while the process lives on', async () => {
    const child = new Child(process.execPath, [
      '-e',
      `
      const { attachTracepoint } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'core', 'session.js'))});
      const probe = attachTracepoint('syscalls:sys_enter_syncfs');
      let after = 0;
      console.log('attached');
      process.stdin.once('data', () => {
        Session.get().detachInBackground();
        probe.close();
        probe.on('event', () => after++);
        console.log('closed ' + Session.get().info().links);
        process.stdin.once('data', () => { console.log('events after close ' + after); process.exit(0); });
      });`,
    ]);
    try {
      await child.waitFor(/^attached$/m);
      let objects = bpfObjectsOf(child.pid);
      await until(() => (objects = bpfObjectsOf(child.pid)).links.length === 1, 5000);
      expect(objects.links).toHaveLength(1);
      child.proc.stdin!.write('x');
      // The session holds no link any more, and neither does the process's fd table.
      await child.waitFor(/^closed 0$/m);
      expect(bpfObjectsOf(child.pid).links).toEqual([]);
      // The kernel frees the link, and with it the program's hold on the tracepoint, in the background.
      let left = stillLoaded(objects);
      // A kernel worker frees them after RCU grace periods: longer on a busy machine.
      await until(() => (left = stillLoaded(objects)).links.length === 0, 20000);
      expect(left.links).toEqual([]);
      execFileSync('sync', ['-f', '/']);
      child.proc.stdin!.write('x');
      await child.waitFor(/^events after close 0$/m);
      expect((await child.exited).code).toBe(0);
    } finally {
      child.kill();
    }
  });

  test('handOff: true here (io_uring is available), the links leave the tracer at once; unknown ids are nothing to do', async () => {
    const out = await runScript(`
      const { native, bpfObjectPath } = require(${JSON.stringify(path.join(distLib, 'sys', 'native.js'))});
      const t = new (native().Tracer)(bpfObjectPath, { maxProbes: 4, ringBytes: 4096, wakeupBytes: 1024, maxCounts: 4, programs: ['kn_tracepoint'] });
      const link = t.attachTracepoint('syscalls', 'sys_enter_syncfs', 1);
      const before = t.info().links;
      const handed = t.handOff([link]);
      const after = t.info().links;
      const none = t.handOff([12345]);
      t.close();
      console.log(JSON.stringify({ before, handed, after, none }));`);
    expect(out).toEqual({ before: 1, handed: true, after: 0, none: true });
  });
});
