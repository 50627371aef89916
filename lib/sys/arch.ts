/**
 * What differs between the architectures the tracer runs on, in one table:
 * the kernel's names for syscall functions, where `struct pt_regs` keeps
 * the registers a syscall's arguments arrive in, and where a function's
 * return address is at its first instruction. (The BPF programs have the
 * same facts for the registers of function arguments, in bpf/.)
 */
import { UnsupportedError } from '../errors';

export interface Arch {
  /** Node's name for it (`process.arch`). */
  name: string;
  /** The prefix of syscall functions: `__x64_sys_openat`. */
  syscallPrefix: string;
  /**
   * Byte offsets in `struct pt_regs` of the registers holding a syscall's
   * arguments 0..5, as the syscall function receives the user's registers.
   */
  syscallArgOffsets: readonly number[];
  /** Integer arguments a function receives in registers (the rest go on the stack). */
  argRegisters: number;
  /**
   * Where a function's return address is at its first instruction, before
   * the function saves anything: the byte offset in `struct pt_regs` of the
   * register that holds it (`deref` false) or points at it (`deref` true).
   */
  returnAddress: { reg: number; deref: boolean; where: string };
}

const ARCHES: Record<string, Arch> = {
  // pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di ...; syscalls use di si dx r10 r8 r9.
  // `call` pushes the return address: at the first instruction it is at the stack pointer (sp, at 152).
  x64: {
    name: 'x64',
    syscallPrefix: '__x64_sys_',
    syscallArgOffsets: [112, 104, 96, 56, 72, 64],
    argRegisters: 6,
    returnAddress: { reg: 152, deref: true, where: 'at the stack pointer (*sp)' },
  },
  // pt_regs begins with user_pt_regs { u64 regs[31]; sp; pc; pstate }: arguments in x0..x5;
  // `bl` leaves the return address in the link register x30.
  arm64: {
    name: 'arm64',
    syscallPrefix: '__arm64_sys_',
    syscallArgOffsets: [0, 8, 16, 24, 32, 40],
    argRegisters: 6,
    returnAddress: { reg: 240, deref: false, where: 'in the link register (x30)' },
  },
};

/** The running (or named) architecture; UnsupportedError for one the programs are not built for. */
export function arch(name: string = process.arch): Arch {
  const a = ARCHES[name];
  if (!a) throw new UnsupportedError('arch', `kprobe-node runs on ${Object.keys(ARCHES).join(' and ')}; this is ${name}`);
  return a;
}

/** The kernel function behind a syscall on this architecture (`openat` -> `__x64_sys_openat`). */
export function syscallFunction(name: string): string {
  return (ARCHES[process.arch]?.syscallPrefix ?? 'sys_') + name;
}
