/**
 * The namespaces this process runs in, by the inode numbers of
 * /proc/self/ns/*: in a PID namespace (a container) pids are translated in
 * the kernel to the ones this process sees; in a user namespace (a rootless
 * container) capabilities do not reach BPF at all.
 */
import * as fs from 'fs';

/** The initial namespaces have fixed inode numbers (PROC_PID_INIT_INO and friends, include/linux/proc_ns.h). */
export const INITIAL_NAMESPACE = { pid: 0xeffffffc, user: 0xeffffffd } as const;

/** The inode number of this process's namespace of `kind`; undefined where /proc cannot tell. */
export function namespaceInode(kind: 'pid' | 'user'): number | undefined {
  try {
    return fs.statSync(`/proc/self/ns/${kind}`).ino;
  } catch {
    return undefined;
  }
}

let pidns: { ino?: number } | undefined;

/**
 * The inode number of this process's PID namespace when it is not the
 * initial one (a container), else undefined. A process never changes its
 * own PID namespace (setns moves only its future children), so it is read once.
 */
export function pidNamespace(): number | undefined {
  if (!pidns) {
    const ino = namespaceInode('pid');
    pidns = { ino: ino === undefined || ino === INITIAL_NAMESPACE.pid ? undefined : ino };
  }
  return pidns.ino;
}

/** Whether this process runs in a user namespace other than the initial one. */
export function inUserNamespace(): boolean {
  const ino = namespaceInode('user');
  return ino !== undefined && ino !== INITIAL_NAMESPACE.user;
}
