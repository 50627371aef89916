/**
 * What the running kernel and process can do, detected at run time so that
 * failures name the missing feature or privilege instead of an errno.
 */
import * as fs from 'fs';
import * as os from 'os';
import { PermissionError, UnsupportedError } from '../errors';

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

/** Throws a PermissionError naming the missing capabilities, before any BPF call. */
export function checkPrivileges(): void {
  const caps = effectiveCapabilities();
  if (has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON))) return;
  const missing = [!has(caps, CAP_BPF) && 'CAP_BPF', !has(caps, CAP_PERFMON) && 'CAP_PERFMON'].filter(Boolean);
  throw new PermissionError(
    `tracing needs root, or the capabilities CAP_BPF and CAP_PERFMON (missing: ${missing.join(', ')}); ` +
      `run with sudo, or grant them: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep $(command -v node)`,
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
