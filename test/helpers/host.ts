/**
 * The one rule for tests that need the real kernel: when a privilege, a kernel
 * feature or a tool is missing, the tests SKIP with the reason in their name
 * on a developer's machine, and FAIL when `CI` is set (CI runs as root, so a
 * skip there could only hide a regression).
 *
 *   describeHost('tracepoints', { root: true, tracefs: true }, () => { ... });
 *
 * The checks read the system directly, not through lib/, so that a bug in
 * lib's own feature detection cannot turn a test into a skip.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface HostNeeds {
  /** CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON, in the effective set. */
  root?: boolean;
  /** tracefs (mounted, or mountable at /sys/kernel/tracing). */
  tracefs?: boolean;
  /** The kernel's BTF (/sys/kernel/btf/vmlinux). */
  btf?: boolean;
  /** Programs that must be on PATH (gcc, bpftool, setpriv, ...). */
  tools?: string[];
}

/** Root of the repository (this file runs from dist/test/helpers). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
/** dist/lib, what the package exports. */
export const distLib = path.join(repoRoot, 'dist', 'lib');

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function hasCap(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', tool], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Why these tests cannot run here; empty when they can. */
export function missingNeeds(needs: HostNeeds): string[] {
  const why: string[] = [];
  if (process.platform !== 'linux') why.push(`not Linux (${process.platform})`);
  if (needs.root) {
    const caps = effectiveCaps();
    if (!hasCap(caps, CAP_SYS_ADMIN) && !(hasCap(caps, CAP_BPF) && hasCap(caps, CAP_PERFMON))) {
      why.push('needs root (or CAP_BPF and CAP_PERFMON)');
    }
  }
  if (needs.tracefs && !fs.existsSync('/sys/kernel/tracing') && !fs.existsSync('/sys/kernel/debug/tracing/events')) {
    why.push('no tracefs (CONFIG_TRACING off?)');
  }
  if (needs.btf && !fs.existsSync('/sys/kernel/btf/vmlinux')) why.push('no kernel BTF (CONFIG_DEBUG_INFO_BTF off?)');
  for (const tool of needs.tools ?? []) if (!onPath(tool)) why.push(`needs ${tool} on PATH`);
  return why;
}

/**
 * `describe`, guarded by the host rule above. The built artifacts are not a
 * "need": without them every test fails, skip or not.
 */
export function describeHost(name: string, needs: HostNeeds, body: () => void): void {
  const why = missingNeeds(needs);
  if (why.length === 0) {
    describe(name, body);
    return;
  }
  const reason = why.join('; ');
  if (process.env.CI) {
    describe(name, () => {
      test('host prerequisites', () => {
        throw new Error(`${name}: cannot run here: ${reason}. CI is set, so a missing privilege or feature is a failure, not a skip.`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED ${name}: ${reason} (set CI=1 to make this a failure)`);
  describe.skip(`${name} [skipped: ${reason}]`, body);
}

/** The cgroup2 mount point, from /proc/mounts (read here, not through lib/). */
export function cgroup2Mount(): string {
  const line = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 file system is mounted');
  return line.split(' ')[1];
}

/** The directory of this process's cgroup v2 (the mount's root is the hierarchy's root on test machines). */
export function ownCgroupDir(): string {
  const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
  return path.join(cgroup2Mount(), own);
}
