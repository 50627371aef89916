/**
 * The kernel-floor probes on a real kernel above the floor (this machine's,
 * and the VM's 6.1 and 6.12 through every kernel test that attaches): each
 * finds what bpftool's own probing finds, and checkKernelFloor() lets the
 * kernel through. Below the floor: test/floor, in the VM on 5.10.
 */
import { execFileSync } from 'child_process';
import { checkKernelFloor } from '../../lib/sys/features';
import { native } from '../../lib/sys/native';
import { describeHost } from '../helpers/host';

describeHost('kernel floor', { root: true, tools: ['bpftool'] }, () => {
  test('the addon\'s probes agree with bpftool: cookies, bpf_get_current_task_btf, the ring buffer', () => {
    const report = execFileSync('bpftool', ['feature', 'probe', 'kernel'], { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    const kprobeHelpers = /eBPF helpers supported for program type kprobe:\n((?:\t- .*\n)*)/.exec(report)?.[1] ?? '';
    expect(kprobeHelpers).toMatch(/bpf_get_current_pid_tgid/);
    const n = native();
    expect(n.probeHelper(2, 174)).toBe(/\bbpf_get_attach_cookie\b/.test(kprobeHelpers));
    expect(n.probeHelper(2, 158)).toBe(/\bbpf_get_current_task_btf\b/.test(kprobeHelpers));
    expect(n.probeMapType(27)).toBe(/eBPF map_type ringbuf is available/.test(report));
    // A helper that no kernel has, and a map type no kernel has: the probes can say no.
    expect(n.probeHelper(2, 100000)).toBe(false);
    expect(n.probeMapType(100000)).toBe(false);
  });

  test('this kernel (above the floor) accepts a global function with a pointer argument, and passes the check', () => {
    const [major, minor] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).split('.').map(Number);
    // Pointer arguments of global functions came with 5.12.
    expect(major > 5 || (major === 5 && minor >= 12)).toBe(true);
    expect(native().probeGlobalFuncPointerArgs()).toBe(true);
    expect(() => checkKernelFloor()).not.toThrow();
  });
});
