/**
 * Stacks taken at a function's first instruction miss the function's caller:
 * the function has not saved the frame pointer yet, so a frame-pointer walk
 * goes from the function straight to its caller's caller. The caller's
 * return address is still where the call left it (lib/sys/arch.ts says
 * where); the BPF program reads it there and inserts it as frame 1, unless
 * the kernel's unwinder already gave it.
 */
import { CFG_KCALLER, CFG_KSTACK, CFG_UCALLER, CFG_USTACK } from '../sys/abi';
import { currentArch } from '../sys/arch';
import type { Compiled } from './compile';

/**
 * For a probe at a function's entry: asks the kernel to recover the caller in
 * the `side` stack when the probe records it. Returns what `explain` says, or
 * undefined when the probe records no such stack.
 */
export function recoverCallerAtEntry(config: Compiled['config'], side: 'kernel' | 'user', fn: string): string | undefined {
  const flags = config.flags ?? 0;
  if (!(flags & (side === 'kernel' ? CFG_KSTACK : CFG_USTACK))) return undefined;
  const { reg, deref, where } = currentArch().returnAddress;
  config.flags = flags | (side === 'kernel' ? CFG_KCALLER : CFG_UCALLER);
  config.callerReg = reg.offset;
  config.callerDeref = deref;
  return side === 'kernel'
    ? `kernel stacks: the probe is at ${fn}'s first instruction, where the caller's return address is ${where}; ` +
        'the kernel\'s unwinder normally finds it, and where it does not, it is read there and becomes frame 1'
    : `user stacks: the probe is at ${fn}'s first instruction, before it saves the frame pointer, so a frame-pointer walk ` +
        `skips its caller; the caller's return address is read ${where} and becomes frame 1 ` +
        '(unless the kernel\'s walk has it already); with --explain such frames are marked [caller at entry]';
}
