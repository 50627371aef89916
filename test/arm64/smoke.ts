/**
 * The arm64 smoke suite: kprobe-node as an arm64 user installs it, on an arm64
 * kernel, in an emulated arm64 machine (scripts/vmtest --arch arm64: Debian's
 * arm64 kernel, a Debian arm64 userland with Node's official arm64 binary).
 *
 *   node dist/test/arm64/smoke.js
 *
 * On the host it makes what the guest cannot, in .cache/vm/arm64/smoke: the
 * npm package as `npm pack` makes it, unpacked as an install would be, and
 * the user program (test/arm64/kn_arm64.c) built with aarch64-linux-gnu-gcc.
 * Then it boots the VM, which runs this same file (KPROBE_NODE_VM is set
 * there): the tests load the unpacked package, so its arm64 prebuild and BPF
 * object, and run one after the other, each with its own probes. A plain
 * runner, not jest (which takes long to start under emulation); it ends with
 * jest's summary line, "Tests: N failed, N passed, N total", and the line
 * scripts/test counts, as scripts/jest-totals.js prints it for jest runs.
 */
import * as assert from 'assert/strict';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as KprobeNode from '../../lib';
import type { Arch } from '../../lib/sys/arch';
import type { Btf as BtfClass } from '../../lib/btf';
import type { Probe } from '../../lib';
import { collect, waitForEvent } from '../helpers/events';
import { repoRoot } from '../helpers/host';
import { memberOffset, regsLayout } from '../helpers/pt-regs';

const work = path.join(repoRoot, '.cache', 'vm', 'arm64', 'smoke');
const pkgDir = path.join(work, 'node_modules', 'kprobe-node');
const program = path.join(work, 'kn_arm64');

// ---- on the host: prepare, then boot the VM --------------------------------

function prepare(): void {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(pkgDir, { recursive: true });
  const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repoRoot, encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const tarball = path.join(work, JSON.parse(packed.stdout)[0].filename as string);
  execFileSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components', '1']);
  // Its dependencies (plain JavaScript) resolve from the repo's node_modules, further up.
  execFileSync('aarch64-linux-gnu-gcc', [
    '-O0', '-g', '-fno-omit-frame-pointer', '-mno-omit-leaf-frame-pointer',
    '-o', program, path.join(repoRoot, 'test', 'arm64', 'kn_arm64.c'),
  ]);
}

function onHost(): never {
  const t0 = Date.now();
  prepare();
  const vm = spawnSync(path.join(repoRoot, 'scripts', 'vmtest'), ['--arch', 'arm64', '--cmd', 'node dist/test/arm64/smoke.js', ...process.argv.slice(2)], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  console.log(`arm64 smoke: ${((Date.now() - t0) / 1000).toFixed(1)} s in all (preparing, booting, testing)`);
  process.exit(vm.status ?? 1);
}

// ---- in the guest: the tests ---------------------------------------------------

type Case = { name: string; fn: () => Promise<void> | void };
const cases: Case[] = [];
function test(name: string, fn: () => Promise<void> | void): void {
  cases.push({ name, fn });
}

const kn = (): typeof KprobeNode => require(pkgDir) as typeof KprobeNode;
const pkgModule = <T>(name: string): T => require(path.join(pkgDir, 'dist', 'lib', name)) as T;

/** Closed after each test. */
const open: Probe[] = [];
function track<P extends Probe>(p: P): P {
  open.push(p);
  return p;
}

let tmp = '';

/** Runs the user program to its end; returns its pid and output. */
function runProgram(): { pid: number; out: string } {
  const r = spawnSync(program, [], { encoding: 'utf8', input: '' });
  assert.equal(r.status, 0, `kn_arm64 failed: ${r.stderr}`);
  return { pid: r.pid as number, out: r.stdout };
}

test('the package loads its arm64 prebuild and BPF object, on an arm64 kernel with kprobes and BTF', () => {
  assert.equal(process.arch, 'arm64');
  assert.equal(os.machine(), 'aarch64');
  const loaded = (require(require.resolve('node-gyp-build', { paths: [pkgDir] })) as { path: (d: string) => string }).path(pkgDir);
  assert.equal(loaded, path.join(pkgDir, 'prebuilds', 'linux-arm64', 'kprobe-node.glibc.node'));
  const { bpfObjectPath } = pkgModule<{ bpfObjectPath: string }>('sys/native.js');
  assert.equal(bpfObjectPath, path.join(pkgDir, 'dist', 'bpf', 'arm64', 'kprobe_node.bpf.o'));
  const f = kn().kernelFeatures();
  assert.equal(f.kprobes, true);
  assert.equal(f.btf, true);
  console.log(`    kernel ${f.release}, node ${process.version}`);
});

test("this kernel's pt_regs has every register lib/sys/arch.ts names where it says", () => {
  const { ARCHES } = pkgModule<{ ARCHES: Record<string, Arch> }>('sys/arch.js');
  const { Btf } = pkgModule<{ Btf: typeof BtfClass }>('btf/index.js');
  const structs = regsLayout(Btf.kernel());
  const a = ARCHES.arm64;
  for (const r of [...a.args, a.ret, a.sp, a.fp, a.ip, ...a.syscallArgs]) {
    assert.equal(memberOffset(structs.pt_regs, r.name), r.offset, `pt_regs.${r.name}`);
  }
  // The programs' context, as bpf/arch.h declares it.
  assert.deepEqual(structs.user_pt_regs.map((m) => m.name), ['regs', 'sp', 'pc', 'pstate']);
});

test('a kprobe on vfs_read: file->f_path.dentry->d_name.name (x0) and count (x2)', async () => {
  const file = path.join(tmp, 'kn-smoke-read');
  fs.writeFileSync(file, 'x'.repeat(1000));
  const probe = track(kn().attachKprobe('vfs_read', { pid: process.pid, args: ['name=file->f_path.dentry->d_name.name', 'count'] }));
  const events = collect(probe);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, Buffer.alloc(123), 0, 123, 0);
  fs.closeSync(fd);
  const ev = await waitForEvent(events, (e) => e.args.name === 'kn-smoke-read', 'vfs_read of kn-smoke-read', 10_000);
  assert.equal(ev.probe, 'kprobe:vfs_read');
  assert.equal(ev.args.count, 123n);
});

test('a kretprobe on do_filp_open: retval->f_path.dentry->d_name.name (x0 on return)', async () => {
  const file = path.join(tmp, 'kn-smoke-open');
  fs.writeFileSync(file, 'x');
  const probe = track(kn().attachKretprobe('do_filp_open', { pid: process.pid, args: ['name=retval->f_path.dentry->d_name.name'] }));
  const events = collect(probe);
  fs.closeSync(fs.openSync(file, 'r'));
  const ev = await waitForEvent(events, (e) => e.args.name === 'kn-smoke-open', 'do_filp_open returning kn-smoke-open', 10_000);
  assert.equal(ev.probe, 'kretprobe:do_filp_open');
});

test('a syscall with arguments: a kprobe on __arm64_sys_openat reads them from the pt_regs it gets', async () => {
  const probe = track(kn().attachSyscall('openat', { pid: process.pid }));
  assert.equal(probe.strategy, 'kprobe __arm64_sys_openat');
  const events = collect(probe);
  const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  fs.closeSync(fd);
  const ev = await waitForEvent(events, (e) => e.args.filename === tmp, `openat of ${tmp}`, 10_000);
  assert.equal(ev.args.dfd, -100); // AT_FDCWD, from orig_x0
  assert.equal(fs.constants.O_DIRECTORY, 0o40000); // arm64's own value
  assert.equal(Number(ev.args.flags) & 0o40000, 0o40000);
});

test("the return of openat, through a kretprobe on __arm64_sys_openat, is the fd", async () => {
  const probe = track(kn().attachSyscall('openat', { pid: process.pid, ret: true }));
  assert.equal(probe.strategy, 'kretprobe __arm64_sys_openat');
  const events = collect(probe);
  const fd = fs.openSync(path.join(tmp, 'kn-smoke-ret'), 'w');
  fs.closeSync(fd);
  const ev = await waitForEvent(events, (e) => Number(e.ret) === fd, `openat returning ${fd}`, 10_000);
  assert.equal(ev.probe, 'syscall:openat:return');
});

test("the CLI names arm64's open flags: ls opening / shows O_DIRECTORY", () => {
  const r = spawnSync(path.join(pkgDir, 'scripts', 'kprobe-node'), ['--syscall', 'openat', '--comm', 'ls', '-c', 'ls /'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => / ls \d+ .*filename="\/" /.test(l));
  assert.ok(line, `no openat of / in:\n${r.stdout}`);
  assert.match(line, /flags=\S*O_DIRECTORY/);
  assert.doesNotMatch(line, /\bO_DIRECT\b|O_LARGEFILE/); // what 0o40000 and 0o400000 would be with x86's table
});

test('a tracepoint: sched:sched_process_exec with its __data_loc filename', async () => {
  const probe = track(kn().attachTracepoint('sched:sched_process_exec'));
  const events = collect(probe);
  const child = spawnSync('/usr/bin/true');
  const ev = await waitForEvent(events, (e) => e.pid === child.pid, 'exec of /usr/bin/true', 10_000);
  assert.equal(ev.args.filename, '/usr/bin/true');
});

test('a uprobe with arguments and a uretprobe with the return value: kn_add(20, 22) = 42', async () => {
  const entry = track(kn().attachUprobe(program, 'kn_add', { args: ['a=arg0:s32', 'b=arg1:s32'] }));
  const exit = track(kn().attachUretprobe(program, 'kn_add', { args: ['r=retval:s32'] }));
  const entries = collect(entry);
  const exits = collect(exit);
  const { pid, out } = runProgram();
  assert.equal(out, 'r 42 s 36\n');
  const a = await waitForEvent(entries, (e) => e.pid === pid, 'kn_add entry', 10_000);
  assert.deepEqual(a.args, { a: 20, b: 22 });
  const r = await waitForEvent(exits, (e) => e.pid === pid, 'kn_add return', 10_000);
  assert.deepEqual(r.args, { r: 42 });
});

test("a uprobe on kn_sum8 reads all eight argument registers, x0..x7 (x86-64 has six)", async () => {
  const args = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `arg${i}:s64`);
  const probe = track(kn().attachUprobe(program, 'kn_sum8', { args }));
  const events = collect(probe);
  const { pid } = runProgram();
  const ev = await waitForEvent(events, (e) => e.pid === pid, 'kn_sum8', 10_000);
  assert.deepEqual(Object.values(ev.args), [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
});

test('a user stack, from kn_add after its frame record is made: kn_add <- kn_caller <- main', async () => {
  // At kn_add+0 the return address is still in x30, in no frame record: the walk
  // would skip kn_caller. kn_add starts with stp x29, x30, [sp, #-N]! ; mov x29, sp.
  const { ElfFile } = pkgModule<typeof import('../../lib/sys/elf')>('sys/elf.js');
  const elf = ElfFile.open(program);
  const fn = elf.symbol('kn_add');
  assert.ok(fn, 'kn_add is in the symbol table');
  const code = fs.readFileSync(program);
  const at = elf.fileOffset(fn.address);
  assert.equal((code.readUInt32LE(at) & 0xffc07fff) >>> 0, 0xa9807bfd, 'stp x29, x30, [sp, #-N]!');
  assert.equal(code.readUInt32LE(at + 4), 0x910003fd, 'mov x29, sp');

  const probe = track(kn().attachUprobe(program, 'kn_add+8', { stack: 'user' }));
  const events = collect(probe);
  // Alive until its event is decoded: frames are named from its mappings.
  const child = spawn(program, [], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    await waitForEvent(events, (e) => e.pid === child.pid, 'kn_add+8', 10_000);
  } finally {
    child.stdin.end();
  }
  const ev = events.find((e) => e.pid === child.pid)!;
  const { user } = kn().symbolize(ev);
  assert.ok(user, 'a user stack');
  console.log(`    ${user.slice(0, 4).join(' <- ')}`);
  assert.deepEqual(user.slice(0, 3).map((f) => f.symbol), ['kn_add', 'kn_caller', 'main']);
  assert.equal(user[0].offset, 8);
  assert.equal(user[0].module, program);
});

test('a wildcard: no kprobe_multi on this kernel, so one kprobe per function, each naming its events', async () => {
  const probe = track(kn().attachKprobe('vfs_[rw][er][ai][dt]*', { pid: process.pid }));
  assert.match(probe.explain ?? '', /kprobe_multi: .*attaching one kprobe per function instead/);
  assert.match(probe.explain ?? '', /strategy: \d+ kprobes, one per function/);
  const events = collect(probe);
  const file = path.join(tmp, 'kn-smoke-wild');
  fs.writeFileSync(file, 'x');
  fs.readFileSync(file);
  await waitForEvent(events, (e) => e.probe === 'kprobe:vfs_write', 'vfs_write', 10_000);
  await waitForEvent(events, (e) => e.probe === 'kprobe:vfs_read', 'vfs_read', 10_000);
});

async function inGuest(): Promise<void> {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-arm64-'));
  let passed = 0;
  let failed = 0;
  const t0 = Date.now();
  for (const c of cases) {
    const t = Date.now();
    try {
      await c.fn();
      passed++;
      console.log(`  ✓ ${c.name} (${Date.now() - t} ms)`);
    } catch (e) {
      failed++;
      console.log(`  ✕ ${c.name} (${Date.now() - t} ms)\n    ${String((e as Error).stack ?? e).replace(/\n/g, '\n    ')}`);
    } finally {
      for (const p of open.splice(0)) p.close();
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`Tests:       ${failed ? `${failed} failed, ` : ''}${passed} passed, ${passed + failed} total`);
  console.log(`Time:        ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`jest-totals: passed=${passed} failed=${failed} skipped=0 suite-errors=0 skipped-suites=0`);
  process.exit(failed ? 1 : 0);
}

if (require.main === module) {
  if (process.env.KPROBE_NODE_VM) {
    if (!fs.existsSync(pkgDir) || !fs.existsSync(program)) {
      console.error('arm64 smoke: nothing prepared; run node dist/test/arm64/smoke.js on the host, which prepares it and boots the VM');
      process.exit(1);
    }
    void inGuest();
  } else {
    onHost();
  }
}
