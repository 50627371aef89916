/**
 * How the session loads its BPF object: only the program the first probe
 * needs is verified, the other loads when first attached (on the same maps
 * and ring); a load started early on a native thread (Session.preload, as the
 * CLI does) is waited for at the first attach, and its failure is reported
 * there as a typed error. Each case runs in a child: a session is per process.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeHost, distLib } from '../helpers/host';
import { run } from '../helpers/proc';
import { buildUprog } from '../helpers/uprog';

jest.setTimeout(30000);

async function runScript(script: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, ['-e', script], { env, timeoutMs: 15000 });
  if (r.code !== 0) throw new Error(`child exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describeHost('session loading', { root: true, tracefs: true, tools: ['gcc', 'sync'] }, () => {
  let exe: string;
  beforeAll(() => {
    exe = buildUprog();
  });
  afterAll(() => fs.rmSync(path.dirname(exe), { recursive: true, force: true }));

  test('a tracepoint loads only the tracepoint program; a uprobe then loads the kprobe program, and both deliver', async () => {
    const out = await runScript(`
      const { execFileSync } = require('child_process');
      const { attachTracepoint, attachUprobe } = require(${JSON.stringify(distLib)});
      const { Session } = require(${JSON.stringify(path.join(distLib, 'session.js'))});
      const got = { tracepoint: 0, uprobe: 0 };
      const tp = attachTracepoint('syscalls:sys_enter_syncfs');
      tp.on('event', (e) => { if (e.comm === 'sync') got.tracepoint++; });
      const before = Session.get().info();
      const up = attachUprobe(${JSON.stringify(exe)}, 'kn_add', { args: ['a=arg0:s32'] });
      up.on('event', (e) => { if (e.args.a === 20) got.uprobe++; });
      const after = Session.get().info();
      execFileSync(${JSON.stringify(exe)});
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
      const { Session } = require(${JSON.stringify(path.join(distLib, 'session.js'))});
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
      const { Session } = require(${JSON.stringify(path.join(distLib, 'session.js'))});
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
});
