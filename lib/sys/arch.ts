/**
 * What kprobe-node knows about each CPU architecture, in one table: where the
 * kernel's `struct pt_regs` keeps a probed function's arguments and return
 * value, how the kernel names its syscall functions and where their argument
 * registers are, and the few constants that differ. bpf/arch.h is the BPF
 * side of the same facts; test/unit/arch.test.ts holds both to the layout of
 * `struct pt_regs` in each kernel's BTF.
 */
import { UnsupportedError } from '../errors';

/** A member of the kernel's `struct pt_regs`: its path (`di`, `regs[3]`) and byte offset. */
export interface Reg {
  name: string;
  offset: number;
}

export interface Arch {
  /** Node's name for it (process.arch). */
  name: 'x64' | 'arm64';
  /** The kernel's and compilers' name, for messages. */
  title: string;
  /** Integer arguments passed in registers, in order (the calling convention). */
  args: Reg[];
  /** A struct passed by value that is larger than 16 bytes: on the stack, or copied and passed by reference (a pointer in the next register). */
  bigStructs: 'stack' | 'reference';
  /** The return value. */
  ret: Reg;
  sp: Reg;
  fp: Reg;
  ip: Reg;
  /** Prefix of the kernel's syscall functions: `openat` -> `__x64_sys_openat`. */
  syscallPrefix: string;
  /**
   * Where the syscall's arguments are in the user registers a syscall function
   * receives (`const struct pt_regs *`, its first argument), in order.
   */
  syscallArgs: Reg[];
  /** Octal values of the open(2) flags that differ from asm-generic/fcntl.h. */
  openFlags: Record<string, string>;
}

const reg = (name: string, offset: number): Reg => ({ name, offset });
/** arm64's x0..x30 are the array `regs` at the start of `struct pt_regs`. */
const x = (n: number): Reg => reg(`regs[${n}]`, 8 * n);

export const ARCHES: Record<Arch['name'], Arch> = {
  x64: {
    name: 'x64',
    title: 'x86-64',
    // System V AMD64 ABI: rdi, rsi, rdx, rcx, r8, r9.
    args: [reg('di', 112), reg('si', 104), reg('dx', 96), reg('cx', 88), reg('r8', 72), reg('r9', 64)],
    bigStructs: 'stack',
    ret: reg('ax', 80),
    sp: reg('sp', 152),
    fp: reg('bp', 32),
    ip: reg('ip', 128),
    syscallPrefix: '__x64_sys_',
    // The syscall ABI puts the fourth argument in r10 (the instruction clobbers rcx).
    syscallArgs: [reg('di', 112), reg('si', 104), reg('dx', 96), reg('r10', 56), reg('r8', 72), reg('r9', 64)],
    openFlags: {},
  },
  arm64: {
    name: 'arm64',
    title: 'arm64',
    // AAPCS64: x0..x7.
    args: [0, 1, 2, 3, 4, 5, 6, 7].map(x),
    bigStructs: 'reference',
    ret: x(0),
    sp: reg('sp', 248),
    fp: x(29),
    ip: reg('pc', 256),
    syscallPrefix: '__arm64_sys_',
    // x0 doubles as the return register; the entry code keeps the first
    // argument in orig_x0 too, which libbpf reads as well.
    syscallArgs: [reg('orig_x0', 272), x(1), x(2), x(3), x(4), x(5)],
    // arch/arm64/include/uapi/asm/fcntl.h
    openFlags: { O_DIRECTORY: '40000', O_NOFOLLOW: '100000', O_DIRECT: '200000', O_LARGEFILE: '400000' },
  },
};

/** The table of a supported architecture, or undefined. Never throws: for data that has a neutral default. */
export function archInfo(name: string = process.arch): Arch | undefined {
  return Object.prototype.hasOwnProperty.call(ARCHES, name) ? ARCHES[name as Arch['name']] : undefined;
}

/** This machine's architecture; throws UnsupportedError naming it when kprobe-node does not know it. */
export function currentArch(name: string = process.arch): Arch {
  const a = archInfo(name);
  if (!a) {
    throw new UnsupportedError(
      'arch',
      `kprobe-node does not support the ${name} architecture: it knows the registers of ${Object.keys(ARCHES).join(' and ')} only`,
    );
  }
  return a;
}

/** The kernel function behind a syscall on this architecture (`openat` -> `__x64_sys_openat`). */
export function syscallFunction(name: string): string {
  return currentArch().syscallPrefix + name;
}
