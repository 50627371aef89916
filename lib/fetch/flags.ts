/**
 * Flag names BTF does not carry: the O_* flags are #defines, not an enum,
 * so open-like functions' `flags` arguments get them from this table.
 */
import { archInfo } from '../sys/arch';

/** One name of a flag set: a bit (or bits) when `mask` is absent, else a field value `(v & mask) == value`. */
export interface FlagName {
  name: string;
  value: bigint;
  mask?: bigint;
}

const O_ACCMODE = 3n;

/** include/uapi/asm-generic/fcntl.h, with an architecture's own values (lib/sys/arch.ts) where they differ. */
function openFlags(arch: string): FlagName[] {
  const own = archInfo(arch)?.openFlags ?? {};
  const o = (name: string, octal: string): FlagName => ({ name, value: BigInt('0o' + (own[name] ?? octal)) });
  return [
    { name: 'O_RDONLY', value: 0n, mask: O_ACCMODE },
    { name: 'O_WRONLY', value: 1n, mask: O_ACCMODE },
    { name: 'O_RDWR', value: 2n, mask: O_ACCMODE },
    o('O_CREAT', '100'),
    o('O_EXCL', '200'),
    o('O_NOCTTY', '400'),
    o('O_TRUNC', '1000'),
    o('O_APPEND', '2000'),
    o('O_NONBLOCK', '4000'),
    o('O_DSYNC', '10000'),
    o('FASYNC', '20000'),
    o('O_DIRECT', '40000'),
    o('O_LARGEFILE', '100000'),
    o('O_DIRECTORY', '200000'),
    o('O_NOFOLLOW', '400000'),
    o('O_NOATIME', '1000000'),
    o('O_CLOEXEC', '2000000'),
    o('__O_SYNC', '4000000'),
    o('O_PATH', '10000000'),
    o('__O_TMPFILE', '20000000'),
  ];
}

/** Known flag tables by name (`:flags open`). */
export const FLAG_TABLES: Record<string, FlagName[]> = {
  open: openFlags(process.arch),
};

/**
 * The table for a value named `name` (a parameter or member) in function or
 * tracepoint `where` (or struct `where` for members), when one is known.
 */
export function knownFlags(where: string, name: string): FlagName[] | undefined {
  if (where === 'struct file' && name === 'f_flags') return FLAG_TABLES.open;
  // Functions with "open" in their name whose flags are something else.
  if (/perf_event_open|pidfd_open|fsopen|open_tree|fanotify|inotify|bpf/.test(where)) return undefined;
  if (/open/.test(where) && /^(flags|o_?flags|open_?flags?|f_flags|oflag)$/.test(name)) return FLAG_TABLES.open;
  return undefined;
}

/** Flag names from an enum whose values are bits (zero and multi-bit values skipped unless exact). */
export function flagsFromEnum(values: Array<{ name: string; value: bigint }>): FlagName[] {
  return values.filter((v) => v.value !== 0n).map((v) => ({ name: v.name, value: v.value }));
}
