/**
 * Containers without a kernel: the container id in a cgroup path, finding
 * the cgroup2 mount in mountinfo (unified and hybrid hierarchies), the
 * checks of the `cgroup` and `signal` options, and the CLI's --cgroup and
 * --count by=cgroup|container.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkOptions } from '../../lib/attach/options';
import { TraceArgs, probeOptionsOf, takeCountOption } from '../../lib/cli/options';
import { OptionError, UnsupportedError } from '../../lib/errors';
import { cgroup2Mount, containerId } from '../../lib/sys/cgroups';
import { kernelDev } from '../../lib/sys/namespaces';

const ID = 'f3c1a9b2d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d';

describe('containerId: the container a cgroup path names', () => {
  test.each([
    [`/system.slice/docker-${ID}.scope`, ID],
    [`/docker/${ID}`, ID],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-${ID}.scope`, ID],
    [`/kubepods/besteffort/pod8d1c2f70-1b7e-4e4c-9d7f-0123456789ab/${ID}`, ID],
    [`/machine.slice/libpod-${ID}.scope`, ID],
    [`/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, ID],
    // A container's own sub-cgroups belong to it.
    [`/system.slice/docker-${ID}.scope/init.scope`, ID],
  ])('%s', (p, want) => {
    expect(containerId(p)).toBe(want);
  });

  test('a container run inside another is the inner one', () => {
    const inner = 'a'.repeat(64);
    expect(containerId(`/system.slice/docker-${ID}.scope/docker/${inner}`)).toBe(inner);
  });

  test.each([
    '/',
    '/system.slice/ssh.service',
    '/user.slice/user-1000.slice/session-2.scope',
    `/system.slice/docker-${ID.slice(1)}.scope`, // 63 hex digits
    `/system.slice/docker-${ID}.service`,
    `/somewhere/${ID}`, // a bare id outside a runtime's folder
    `/system.slice/docker-${ID.toUpperCase()}.scope`,
  ])('none in %s', (p) => {
    expect(containerId(p)).toBeUndefined();
  });
});

describe('cgroup2Mount reads /proc/self/mountinfo', () => {
  const write = (text: string) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kn-mountinfo-')), 'mountinfo');
    fs.writeFileSync(f, text);
    return f;
  };

  test('hybrid: cgroup2 beside the v1 controllers', () => {
    const f = write([
      '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      '',
    ].join('\n'));
    expect(cgroup2Mount(f)).toEqual({ dir: '/sys/fs/cgroup/unified', root: '/' });
  });

  test('unified, with optional fields; a mounted subtree and an escaped path', () => {
    const f = write([
      '25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
      '',
    ].join('\n'));
    expect(cgroup2Mount(f)).toEqual({ dir: '/sys/fs/cgroup', root: '/' });
    const g = write('61 60 0:22 /system.slice/x.service /mnt/my\\040cgroups rw master:1 - cgroup2 cgroup2 rw\n');
    expect(cgroup2Mount(g)).toEqual({ dir: '/mnt/my cgroups', root: '/system.slice/x.service' });
  });

  test('none: UnsupportedError naming cgroup2', () => {
    const f = write('34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n');
    expect(() => cgroup2Mount(f)).toThrow(UnsupportedError);
    expect(() => cgroup2Mount(f)).toThrow(/no cgroup v2 hierarchy is mounted/);
  });
});

test("kernelDev: stat's device numbers as the kernel's dev_t (what bpf_get_ns_current_pid_tgid compares)", () => {
  expect(kernelDev(4)).toBe(4); // nsfs, 0:4
  expect(kernelDev(0x801)).toBe((8 << 20) | 1); // sda1
  expect(kernelDev((259 << 8) | 3)).toBe((259 << 20) | 3); // nvme0n1p3
  expect(kernelDev(0x123000ab)).toBe(0x123ab); // major 0, minor 0x123ab in glibc's split encoding
});

describe('options', () => {
  test.each([
    [{ cgroup: '' }, /cgroup must be 'self', a cgroup path or a cgroup id, got ""/],
    [{ cgroup: 0 }, /got 0/],
    [{ cgroup: -3 }, /got -3/],
    [{ cgroup: 1.5 }, /got 1.5/],
    [{ cgroup: 0n }, /got 0n/],
    [{ cgroup: {} as unknown as string }, /got \{\}/],
    [{ signal: {} as AbortSignal }, /signal must be an AbortSignal/],
    [{ signal: 'abort' as unknown as AbortSignal }, /signal must be an AbortSignal/],
  ])('%p is an OptionError', (opts, message) => {
    expect(() => checkOptions(opts)).toThrow(OptionError);
    expect(() => checkOptions(opts)).toThrow(message);
  });

  test('good ones pass', () => {
    for (const cgroup of ['self', '/system.slice', 42, 42n]) expect(() => checkOptions({ cgroup })).not.toThrow();
    expect(() => checkOptions({ signal: new AbortController().signal })).not.toThrow();
  });
});

describe('the CLI', () => {
  const argv = (extra: Partial<TraceArgs>): TraceArgs => ({ targets: [], ret: false, syscall: ['openat'], tracepoint: [], json: false, latency: false, arg: [], explain: false, l: false, verbose: false, exitWithCommand: false, includeSelf: false, ...extra });

  test('--cgroup: digits are an id, anything else a path or self', () => {
    expect(probeOptionsOf(argv({ cgroup: '1234' })).cgroup).toBe(1234);
    expect(probeOptionsOf(argv({ cgroup: '/system.slice/x.service' })).cgroup).toBe('/system.slice/x.service');
    expect(probeOptionsOf(argv({ cgroup: 'self' })).cgroup).toBe('self');
    expect(() => probeOptionsOf(argv({ cgroup: '' }))).toThrow(OptionError);
  });

  test('--count cgroup, --count by=container', () => {
    expect(takeCountOption(argv({ count: 'cgroup' }))).toBe('cgroup');
    expect(takeCountOption(argv({ count: 'by=container' }))).toBe('container');
  });
});
