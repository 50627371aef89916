/**
 * Failures are typed values users can act on: kprobes missing on this kernel,
 * unknown names with suggestions, bad options caught before the kernel is
 * touched, and missing privileges named as capabilities.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  NotFoundError,
  OptionError,
  PermissionError,
  UnsupportedError,
  attachKprobe,
  attachKretprobe,
  attachSyscall,
  attachTracepoint,
  kernelFeatures,
} from '../../lib';
import { errorOf } from '../helpers/events';
import { describeHost, distLib } from '../helpers/host';
import { run } from '../helpers/proc';

jest.setTimeout(30000);

/** Checked directly, so that a wrong kernelFeatures() cannot pick the branch it passes. */
const kernelHasKprobes =
  fs.existsSync('/sys/bus/event_source/devices/kprobe/type') ||
  fs.existsSync('/sys/kernel/tracing/kprobe_events') ||
  fs.existsSync('/sys/kernel/debug/tracing/kprobe_events');

describeHost('errors', { root: true, tracefs: true, tools: ['setpriv'] }, () => {
  test('kernelFeatures() agrees with the kernel about kprobes', () => {
    expect(kernelFeatures().kprobes).toBe(kernelHasKprobes);
  });

  for (const [what, attach] of [
    ['attachKprobe', attachKprobe],
    ['attachKretprobe', attachKretprobe],
  ] as const) {
    // Where kprobes exist, test/kernel/errors.test.ts checks that these attach and deliver events.
    (kernelHasKprobes ? test.skip : test)(`${what}('vfs_read'): UnsupportedError naming kprobes and CONFIG_KPROBES`, () => {
      const e = errorOf(() => attach('vfs_read'));
      expect(e).toBeInstanceOf(UnsupportedError);
      expect(e.name).toBe('UnsupportedError');
      expect(e.code).toBe('EKN_UNSUPPORTED');
      expect(e.feature).toBe('kprobes');
      expect(e.message).toContain('CONFIG_KPROBES');
      expect(e.message).toContain('vfs_read');
      // It points at what does work here.
      expect(e.message).toMatch(/tracepoint/i);
    });
  }

  test('an unknown tracepoint is a NotFoundError that suggests the right name', () => {
    const e = errorOf(() => attachTracepoint('sched:sched_swich'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.code).toBe('EKN_NOT_FOUND');
    expect((e as unknown as NotFoundError).suggestions[0]).toBe('sched:sched_switch');
    expect(e.message).toContain('sched:sched_swich');
    expect(e.message).toContain('did you mean sched:sched_switch');
  });

  test('an unknown tracepoint category is a NotFoundError too', () => {
    const e = errorOf(() => attachTracepoint('no_such_category:sched_switch'));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.code).toBe('EKN_NOT_FOUND');
  });

  const badOptions: Array<[string, () => unknown, RegExp]> = [
    ['pid: -1', () => attachSyscall('openat', { pid: -1 }), /pid/],
    ['pid: 1.5', () => attachTracepoint('syscalls:sys_enter_syncfs', { pid: 1.5 }), /pid/],
    ['uid: 2^32', () => attachTracepoint('syscalls:sys_enter_syncfs', { uid: 2 ** 32 }), /uid/],
    ['comm longer than 15', () => attachSyscall('openat', { comm: 'a-very-long-name' }), /comm.*15/],
    ['comm empty', () => attachSyscall('openat', { comm: '' }), /comm/],
    ['tracepoint without a colon', () => attachTracepoint('sched_switch'), /category:name/],
    ['tracepoint with spaces', () => attachTracepoint('sched: sched_switch'), /tracepoint/],
    ['kprobe name with a space', () => attachKprobe('vfs read'), /vfs read/],
    ['syscall name in capitals', () => attachSyscall('OpenAt'), /OpenAt/],
  ];
  test.each(badOptions)('bad option (%s) is an OptionError', (_what, call, message) => {
    const e = errorOf(call);
    expect(e).toBeInstanceOf(OptionError);
    expect(e.code).toBe('EKN_BAD_OPTION');
    expect(e.message).toMatch(message);
  });

  /**
   * Runs `body` in a child node process with every capability dropped, as
   * uid `uid`. The child prints one JSON line per call: the error's name,
   * code and message, or "attached".
   */
  async function withoutCapabilities(uid: number, calls: string[]): Promise<Array<Record<string, string>>> {
    const script = `
      const kn = require(${JSON.stringify(distLib)});
      const caps = /^CapEff:\\s*(\\w+)$/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1];
      console.log(JSON.stringify({ uid: process.getuid(), caps }));
      for (const call of ${JSON.stringify(calls)}) {
        try {
          const p = eval(call);
          console.log(JSON.stringify({ call, attached: true }));
          p.close();
        } catch (e) {
          console.log(JSON.stringify({ call, name: e.name, code: e.code, message: e.message, isPermission: e instanceof kn.PermissionError, isOption: e instanceof kn.OptionError }));
        }
      }`;
    const ids = uid === 0 ? [] : [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
    const r = await run('setpriv', [...ids, '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', process.execPath, '-e', script], {
      env: { PATH: process.env.PATH, HOME: '/' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [who, ...results] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // The set-up really took every capability away.
    expect(who).toEqual({ uid, caps: '0000000000000000' });
    return results;
  }

  const privileged = [
    "kn.attachSyscall('openat')",
    "kn.attachSyscall('openat', { ret: true })",
    "kn.attachTracepoint('sched:sched_switch')",
  ];
  const checked = ["kn.attachSyscall('openat', { pid: -1 })", "kn.attachTracepoint('sched_switch')"];

  function expectPermissionErrors(results: Array<Record<string, unknown>>): void {
    for (const r of results.slice(0, privileged.length)) {
      expect(r).toMatchObject({ name: 'PermissionError', code: 'EKN_PERMISSION', isPermission: true });
      expect(r.message).toContain('CAP_BPF');
      expect(r.message).toContain('CAP_PERFMON');
    }
    // Options are checked before anything touches the kernel: still OptionErrors.
    for (const r of results.slice(privileged.length)) {
      expect(r).toMatchObject({ name: 'OptionError', code: 'EKN_BAD_OPTION', isOption: true });
    }
  }

  test('root without capabilities: PermissionError naming CAP_BPF and CAP_PERFMON', async () => {
    const results = await withoutCapabilities(0, [...privileged, ...checked]);
    expect(results.map((r) => r.call)).toEqual([...privileged, ...checked]);
    expectPermissionErrors(results);
  });

  test('an unprivileged user: PermissionError naming CAP_BPF and CAP_PERFMON', async () => {
    // dist/ must be readable by the user for this test to say anything.
    fs.accessSync(path.join(distLib, 'index.js'), fs.constants.R_OK);
    expect(fs.statSync(path.join(distLib, 'index.js')).mode & 0o004).toBe(0o004);
    const results = await withoutCapabilities(65534, [...privileged, ...checked]);
    expectPermissionErrors(results);
  });
});
