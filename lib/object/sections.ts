/**
 * What a program's ELF section name says about where it attaches, in
 * libbpf's conventions (SEC("kprobe/vfs_read"), SEC("tp/sched/sched_switch"),
 * ...): the one table the object API consults to attach by section, to
 * refuse a section that names no target, and to list programs.
 */

export type SectionKind =
  | 'kprobe'
  | 'kretprobe'
  | 'ksyscall'
  | 'kretsyscall'
  | 'uprobe'
  | 'uretprobe'
  | 'tracepoint'
  | 'raw_tracepoint'
  /** Attached through the kernel's BTF (fentry, fexit, tp_btf, lsm, iter, kprobe.multi, usdt): libbpf finds the target. */
  | 'btf'
  /** Anything else (xdp, tc, socket, cgroup, perf_event, ...): loaded, but attached by other means. */
  | 'other';

export interface SectionInfo {
  kind: SectionKind;
  /** What the section names: `vfs_read`, `sched:sched_switch`, `/usr/bin/bash:readline`. */
  target?: string;
  /** Whether attach() can attach it from the section alone. */
  auto: boolean;
}

const PREFIXES: Array<[RegExp, SectionKind]> = [
  [/^kprobe(?:\/(.+))?$/, 'kprobe'],
  [/^kretprobe(?:\/(.+))?$/, 'kretprobe'],
  [/^ksyscall(?:\/(.+))?$/, 'ksyscall'],
  [/^kretsyscall(?:\/(.+))?$/, 'kretsyscall'],
  [/^uprobe(?:\.s)?(?:\/(.+))?$/, 'uprobe'],
  [/^uretprobe(?:\.s)?(?:\/(.+))?$/, 'uretprobe'],
  [/^(?:tracepoint|tp)(?:\/(.+))?$/, 'tracepoint'],
  [/^(?:raw_tracepoint|raw_tp)(?:\.w)?(?:\/(.+))?$/, 'raw_tracepoint'],
  [/^(?:fentry|fexit|fmod_ret|tp_btf|lsm|iter|kprobe\.multi|kretprobe\.multi|usdt)(?:\.s)?(?:\/(.+))?$/, 'btf'],
];

/** Where a program of section `section` attaches. */
export function parseSection(section: string): SectionInfo {
  for (const [re, kind] of PREFIXES) {
    const m = re.exec(section);
    if (!m) continue;
    let target: string | undefined = m[1];
    // tracepoint/<category>/<name>: shown as category:name, as elsewhere in kprobe-node.
    if (kind === 'tracepoint' && target !== undefined) target = target.includes('/') ? target.replace('/', ':') : undefined;
    return target === undefined ? { kind, auto: false } : { kind, target, auto: true };
  }
  return { kind: 'other', auto: false };
}

/** Kinds that need kprobes in the kernel. */
export function needsKprobes(kind: SectionKind): boolean {
  return kind === 'kprobe' || kind === 'kretprobe' || kind === 'ksyscall' || kind === 'kretsyscall';
}
