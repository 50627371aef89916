/**
 * What the running kernel's text holds, read from /proc/kallsyms directly
 * (not through lib/), so that kernel tests pick the functions that exist on
 * the kernel they run on.
 */
import * as fs from 'fs';

/** Whether `fn` is a function of the kernel or of a loaded module. */
export function kernelHasFunction(fn: string): boolean {
  return new RegExp(` [tT] ${fn}(\\t|$)`, 'm').test(fs.readFileSync('/proc/kallsyms', 'utf8'));
}

/**
 * The function a FUSE open of a regular file goes through: fuse_open_common
 * (inode, file, isdir) served files and directories alike until newer kernels
 * split it into fuse_open and fuse_dir_open. Load fuse first (a module on 6.1).
 */
export function fuseOpenFunction(): 'fuse_open_common' | 'fuse_open' {
  if (kernelHasFunction('fuse_open_common')) return 'fuse_open_common';
  if (kernelHasFunction('fuse_open')) return 'fuse_open';
  throw new Error('neither fuse_open_common nor fuse_open is in /proc/kallsyms: is fuse loaded?');
}
