/**
 * The architecture table (lib/sys/arch.ts, bpf/arch.h) against the kernels:
 * every register it names sits at its offset in `struct pt_regs` as the BTF
 * of Debian's x86-64 and arm64 6.1 kernels lays it out (test/fixtures/
 * pt_regs.json, read from the kernel images by test/helpers/pt-regs.ts), and
 * the BPF side reads the same registers. Then what differs by architecture,
 * in a child node whose preload reports another process.arch: which
 * registers a kernel function's parameters are in, the open flags, and an
 * architecture kprobe-node does not know, which fails at first use.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ARCHES, Arch, Reg } from '../../lib/sys/arch';
import { distLib, repoRoot } from '../helpers/host';
import { run } from '../helpers/proc';
import { KernelRegs, memberOffset } from '../helpers/pt-regs';
import { FIXTURE_BTF } from '../helpers/kernel-fixture';

const kernels = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'pt_regs.json'), 'utf8')) as KernelRegs[];

/** Every register the table names, with its role. */
function named(a: Arch): Array<[string, Reg]> {
  return [
    ...a.args.map((r, i): [string, Reg] => [`argument ${i}`, r]),
    ['return value', a.ret],
    ['stack pointer', a.sp],
    ['frame pointer', a.fp],
    ['instruction pointer', a.ip],
    ...a.syscallArgs.map((r, i): [string, Reg] => [`syscall argument ${i}`, r]),
  ];
}

test('the fixture has a kernel of each architecture the table knows', () => {
  expect(kernels.map((k) => k.arch).sort()).toEqual(Object.keys(ARCHES).sort());
});

describe.each(kernels.map((k) => [`${k.arch} (${k.release})`, k] as const))('%s', (_, kernel) => {
  const arch = ARCHES[kernel.arch as Arch['name']];
  const ptRegs = kernel.structs.pt_regs;

  test.each(named(arch).map(([role, r]) => [role, r.name, r.offset] as const))('the %s is pt_regs.%s, at %d', (_role, name, offset) => {
    expect(memberOffset(ptRegs, name)).toBe(offset);
  });
});

test.each(Object.values(ARCHES))('$name: 6 (x86-64) or 8 (arm64) arguments in distinct registers, and 6 syscall arguments', (a) => {
  expect(a.args.length).toBe({ x64: 6, arm64: 8 }[a.name]);
  expect(new Set(a.args.map((r) => r.offset)).size).toBe(a.args.length);
  expect(new Set(a.syscallArgs.map((r) => r.offset)).size).toBe(6);
});

test("arm64: the programs' context, user_pt_regs, is the start of pt_regs", () => {
  const k = kernels.find((x) => x.arch === 'arm64')!;
  const user = k.structs.user_pt_regs;
  expect(user.map((m) => m.name)).toEqual(['regs', 'sp', 'pc', 'pstate']);
  expect(user.map((m) => k.structs.pt_regs.find((p) => p.name === m.name))).toEqual(user);
});

/** bpf/arch.h's table for one architecture: what the BPF programs read. */
function bpfTable(name: Arch['name']): { args: string[]; ret: string; sp: string; fp: string; ip: string } {
  const src = fs.readFileSync(path.join(repoRoot, 'bpf', 'arch.h'), 'utf8');
  const guard = { x64: '__TARGET_ARCH_x86', arm64: '__TARGET_ARCH_arm64' }[name];
  const section = src.split(/^#(?:el)?if defined\(/m).find((s) => s.startsWith(`${guard})`))!;
  const macro = (m: string) => new RegExp(`^#define KN_${m} (\\S+)$`, 'm').exec(section)![1];
  const table = /#define KN_ARG_REGS\(X\)((?:.|\\\n)*?)\n(?!\t)/.exec(section)![1];
  return {
    args: [...table.matchAll(/X\((\d+), ([^)]+\]?)\)/g)].map((m) => m[2]),
    ret: macro('RC'),
    sp: macro('SP'),
    fp: macro('FP'),
    ip: macro('IP'),
  };
}

test.each(Object.keys(ARCHES) as Arch['name'][])('%s: bpf/arch.h reads the registers lib/sys/arch.ts names', (name) => {
  const a = ARCHES[name];
  expect(bpfTable(name)).toEqual({ args: a.args.map((r) => r.name), ret: a.ret.name, sp: a.sp.name, fp: a.fp.name, ip: a.ip.name });
});

/** Runs `script` in a child node that reports `arch` as process.arch; returns what it prints as JSON. */
async function asArch(arch: string, script: string): Promise<unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-arch-'));
  try {
    const preload = path.join(dir, 'arch.js');
    fs.writeFileSync(preload, `Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });`);
    const r = await run(process.execPath, ['-r', preload, '-e', script]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Prototypes of the kernel's, from the fixture's BTF: ZSTD_adjustCParams(struct of 28 bytes, u64,
// size_t), HUF_compressCTable_internal (8 parameters).
test('kernel functions: parameters in the registers each calling convention uses', async () => {
  const script = `
    const { Btf } = require(${JSON.stringify(path.join(distLib, 'btf'))});
    const { kprobeContext, rawContext } = require(${JSON.stringify(path.join(distLib, 'fetch'))});
    const btf = Btf.load(${JSON.stringify(FIXTURE_BTF)});
    const params = (fn) => kprobeContext(btf.findFunction(fn)).params.map((p) => p.unavailable ? 'stack/ref' : p.at.reg);
    console.log(JSON.stringify({
      big: params('ZSTD_adjustCParams'),
      eight: params('HUF_compressCTable_internal'),
      raw: rawContext('uprobe', 'f').params.map((p) => p.name),
    }));`;
  expect(await asArch('x64', script)).toEqual({
    big: ['stack/ref', 0, 1], // on the stack; the next ones take the first registers
    eight: [0, 1, 2, 3, 4, 5, 'stack/ref', 'stack/ref'],
    raw: ['arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5'],
  });
  expect(await asArch('arm64', script)).toEqual({
    big: ['stack/ref', 1, 2], // a pointer to a copy in x0
    eight: [0, 1, 2, 3, 4, 5, 6, 7],
    raw: ['arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5', 'arg6', 'arg7'],
  });
});

test('open flags: arm64 has its own values for four of them', async () => {
  const script = `
    const { FLAG_TABLES } = require(${JSON.stringify(path.join(distLib, 'fetch'))});
    const v = (n) => '0' + FLAG_TABLES.open.find((f) => f.name === n).value.toString(8);
    console.log(JSON.stringify(['O_DIRECTORY', 'O_NOFOLLOW', 'O_DIRECT', 'O_LARGEFILE', 'O_CLOEXEC'].map(v)));`;
  expect(await asArch('x64', script)).toEqual(['0200000', '0400000', '040000', '0100000', '02000000']);
  expect(await asArch('arm64', script)).toEqual(['040000', '0100000', '0200000', '0400000', '02000000']);
});

test.each(['riscv64', 'ppc64', 's390x'])('on %s: import works, and the first use fails naming the architecture, before the addon loads', async (arch) => {
  const script = `
    const kn = require(${JSON.stringify(distLib)});
    const { native } = require(${JSON.stringify(path.join(distLib, 'sys', 'native.js'))});
    const fail = (f) => {
      try { f(); return { threw: false }; } catch (e) {
        return { name: e.name, code: e.code, feature: e.feature, message: e.message, isUnsupported: e instanceof kn.UnsupportedError };
      }
    };
    console.log(JSON.stringify({
      native: fail(() => native()),
      syscallFunction: fail(() => kn.syscallFunction('openat')),
      addon: Object.keys(require.cache).some((f) => f.endsWith('.node')),
    }));`;
  const expected = {
    name: 'UnsupportedError',
    code: 'EKN_UNSUPPORTED',
    feature: 'arch',
    message: `kprobe-node does not support the ${arch} architecture: it knows the registers of x64 and arm64 only`,
    isUnsupported: true,
  };
  expect(await asArch(arch, script)).toEqual({ native: expected, syscallFunction: expected, addon: false });
});
