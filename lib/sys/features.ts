/**
 * What the running kernel and process can do, detected at run time so that
 * failures name the missing feature or privilege instead of an errno.
 */
import * as fs from 'fs';
import * as os from 'os';
import { PermissionError, UnsupportedError } from '../errors';
import { inUserNamespace } from './namespaces';
import { native } from './native';

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** The effective capability set of this process. */
export function effectiveCapabilities(): bigint {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function has(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** How to give a service exactly the capabilities it needs; the README's "Containers and services" has the recipes. */
const LEAST_PRIVILEGE =
  'give them to the service alone, not to the node binary: a systemd unit with ' +
  'AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH, or a container run with ' +
  '--cap-add BPF --cap-add PERFMON (see "Containers and services" in the README)';

/** Throws a PermissionError naming the missing capabilities, before any BPF call. */
export function checkPrivileges(): void {
  // Capabilities held in a user namespace do not reach the kernel's BPF and perf checks,
  // which look at the initial one: however full CapEff looks there, tracing fails.
  if (inUserNamespace()) {
    throw new PermissionError(
      'this process runs in a user namespace (a rootless container, or user namespace remapping): capabilities ' +
        'there do not count for BPF, which needs CAP_BPF and CAP_PERFMON in the host\'s initial user namespace; ' +
        'run it without a user namespace, with only those capabilities added (--cap-add BPF --cap-add PERFMON)',
    );
  }
  const caps = effectiveCapabilities();
  if (has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON))) return;
  const missing = [!has(caps, CAP_BPF) && 'CAP_BPF', !has(caps, CAP_PERFMON) && 'CAP_PERFMON'].filter(Boolean);
  throw new PermissionError(
    `tracing needs root, or the capabilities CAP_BPF and CAP_PERFMON (missing: ${missing.join(', ')}), ` +
      `and CAP_DAC_READ_SEARCH to read tracefs as another user than root; ${LEAST_PRIVILEGE}`,
  );
}

export interface KernelFeatures {
  release: string;
  /** The kprobe PMU (perf_event_open kprobes), or the legacy tracefs interface. */
  kprobes: boolean;
  /** Kernel BTF at /sys/kernel/btf/vmlinux. */
  btf: boolean;
  uprobes: boolean;
}

let cached: KernelFeatures | undefined;

export function kernelFeatures(): KernelFeatures {
  if (cached) return cached;
  const exists = (p: string) => fs.existsSync(p);
  cached = {
    release: os.release(),
    kprobes:
      exists('/sys/bus/event_source/devices/kprobe/type') ||
      exists('/sys/kernel/tracing/kprobe_events') ||
      exists('/sys/kernel/debug/tracing/kprobe_events'),
    btf: exists('/sys/kernel/btf/vmlinux'),
    uprobes: exists('/sys/bus/event_source/devices/uprobe/type'),
  };
  return cached;
}

/** Throws an UnsupportedError when this kernel cannot attach kprobes. */
export function requireKprobes(what: string): void {
  if (kernelFeatures().kprobes) return;
  throw new UnsupportedError(
    'kprobes',
    `cannot attach ${what}: kprobes are not available on this kernel (${kernelFeatures().release}); it was built ` +
      'without CONFIG_KPROBES (no /sys/bus/event_source/devices/kprobe, no kprobe_events in tracefs). ' +
      'Tracepoints (attachTracepoint, --tracepoint), syscalls (attachSyscall, --syscall: they fall back to the ' +
      'syscall tracepoints) and uprobes work here.',
  );
}

let floorMissing: { feature: string; what: string } | null | undefined;

/**
 * Throws an UnsupportedError when the kernel lacks a feature the BPF programs
 * need, before anything is loaded (the verifier would refuse them with a raw
 * dump instead). Probed once per process (again while bpf() itself is
 * refused); the first missing feature, newest first, is named with the
 * running release and the minimum kernel.
 */
export function checkKernelFloor(): void {
  if (floorMissing === undefined) {
    const n = native();
    // bpf() refused outright (a container's seccomp profile, say) is no missing feature: the load reports it.
    if (!n.probeMapType(2 /* BPF_MAP_TYPE_ARRAY */)) return;
    const KPROBE = 2; // BPF_PROG_TYPE_KPROBE
    const needs: Array<[feature: string, what: string, has: () => boolean]> = [
      ['bpf-cookie', 'BPF cookies (bpf_get_attach_cookie)', () => n.probeHelper(KPROBE, 174)], // 5.15
      ['global-func-pointer-args', 'global BPF functions with pointer arguments', () => n.probeGlobalFuncPointerArgs()], // 5.12
      ['current-task-btf', 'the BPF helper bpf_get_current_task_btf', () => n.probeHelper(KPROBE, 158)], // 5.11
      ['ringbuf', 'the BPF ring buffer (BPF_MAP_TYPE_RINGBUF)', () => n.probeMapType(27)], // 5.8
    ];
    const missing = needs.find(([, , has]) => !has());
    floorMissing = missing ? { feature: missing[0], what: missing[1] } : null;
  }
  if (floorMissing) {
    throw new UnsupportedError(
      floorMissing.feature,
      `this kernel (${os.release()}) lacks ${floorMissing.what}, which kprobe-node needs: Linux 5.15 or newer is required`,
    );
  }
}
