/**
 * What the running kernel and process can do, detected at run time so that
 * failures name the missing feature or privilege instead of an errno.
 */
import * as fs from 'fs';
import * as os from 'os';
import { PermissionError, UnsupportedError } from '../errors';
import { inUserNamespace } from './namespaces';

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
