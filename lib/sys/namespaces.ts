/**
 * The namespaces this process runs in, by the inode numbers of
 * /proc/self/ns/*: in a PID namespace (a container) pids are translated in
 * the kernel to the ones this process sees; in a user namespace (a rootless
 * container) capabilities do not reach BPF at all.
 */
import * as fs from 'fs';
import type { PidNamespace } from './abi';

/** The initial namespaces have fixed inode numbers (PROC_PID_INIT_INO and friends, include/linux/proc_ns.h). */
export const INITIAL_NAMESPACE = { pid: 0xeffffffc, user: 0xeffffffd } as const;

/** stat's st_dev (glibc's encoding of major and minor) as the kernel's dev_t, `major << 20 | minor`. */
export function kernelDev(dev: number): number {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return (major * 2 ** 20 + minor) >>> 0;
}

let pidns: { ns?: PidNamespace } | undefined;

/**
 * This process's PID namespace when it is not the initial one (a
 * container), else undefined. A process never changes its own PID
 * namespace (setns moves only its future children), so it is read once.
 */
export function pidNamespace(): PidNamespace | undefined {
  if (!pidns) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync('/proc/self/ns/pid');
    } catch {
      // no /proc: taken as the host
    }
    pidns = { ns: st && st.ino !== INITIAL_NAMESPACE.pid ? { ino: st.ino, dev: kernelDev(st.dev) } : undefined };
  }
  return pidns.ns;
}

/** Whether this process runs in a user namespace other than the initial one (false where /proc cannot tell). */
export function inUserNamespace(): boolean {
  try {
    return fs.statSync('/proc/self/ns/user').ino !== INITIAL_NAMESPACE.user;
  } catch {
    return false;
  }
}
