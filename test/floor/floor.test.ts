/**
 * The kernel floor, checked on a kernel below it: scripts/test runs this
 * project in the test VM on Debian 11's 5.10 (scripts/vmtest --suite
 * bullseye). There, attaching must fail with an UnsupportedError naming the
 * first missing feature, the running kernel and the minimum, before any BPF
 * object is loaded (the verifier would refuse it with a raw dump), and the
 * CLI must say so in one line. What loads nothing (info) still works.
 */
import * as fs from 'fs';
import * as os from 'os';
import { UnsupportedError, attachKprobe, attachSyscall, attachTracepoint, countBy } from '../../lib';
import { runCli } from '../helpers/proc';

jest.setTimeout(60_000);

const expected = `this kernel (${os.release()}) lacks BPF cookies (bpf_get_attach_cookie), which kprobe-node needs: Linux 5.15 or newer is required`;

/** The kernel's BPF objects this process holds open (programs, maps, links, BTF). */
function bpfFds(): string[] {
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((t) => /^anon_inode:bpf/.test(t));
}

beforeAll(() => {
  // Read from the kernel, not through lib/: this project only makes sense on a kernel without BPF cookies,
  // whose helper (bpf_get_attach_cookie_trace and its siblings) is then missing from the kernel's text.
  const kallsyms = fs.readFileSync('/proc/kallsyms', 'utf8');
  expect(kallsyms).toMatch(/ [tT] bpf_ringbuf_output(\t|$)/m);
  expect(kallsyms).not.toMatch(/ [tT] bpf_get_attach_cookie/m);
});

test.each([
  ['attachTracepoint', () => attachTracepoint('syscalls:sys_enter_getpid')],
  ['attachKprobe', () => attachKprobe('vfs_read')],
  ['attachSyscall', () => attachSyscall('getpid')],
  ['countBy', () => countBy('syscall:getpid', { by: 'comm' })],
])('%s throws an UnsupportedError naming bpf-cookie, this kernel and 5.15, and loads nothing', (_name, attach) => {
  const before = bpfFds();
  let err: unknown;
  try {
    attach();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UnsupportedError);
  const u = err as UnsupportedError;
  expect(u.code).toBe('EKN_UNSUPPORTED');
  expect(u.feature).toBe('bpf-cookie');
  expect(u.message).toBe(expected);
  expect(u.log).toBeUndefined();
  expect(bpfFds()).toEqual(before);
});

test.each([
  [['--syscall', 'getpid', '--duration', '1']],
  [['vfs_read', '--count', '--duration', '1']],
])('kprobe-node %j exits 1 with one line naming the floor, no verifier dump', async (args) => {
  const r = await runCli(args, { timeoutMs: 50_000 });
  expect(r.stderr).toBe(`kprobe-node: ${expected}\n`);
  expect(r.stdout).toBe('');
  expect(r.code).toBe(1);
});

test('what loads no BPF still works below the floor: kprobe-node info', async () => {
  const info = await runCli(['info', 'vfs_read'], { timeoutMs: 50_000 });
  expect(info.stderr).toBe('');
  expect(info.code).toBe(0);
  expect(info.stdout).toMatch(/^ssize_t vfs_read\(struct file \*file, char \*buf, size_t count, loff_t \*pos\)$/m);
});
