#!/usr/bin/env node
/**
 * The kprobe-node command. Loading the BPF object (libbpf's CO-RE relocation
 * and the kernel's verifier, ~30 ms) takes as long as loading the command
 * line's modules, so it starts first, on a native thread, and the two overlap;
 * the commands themselves are in ./args.ts.
 */
import { parseTarget } from '../attach/target';
import { Session } from '../core/session';
import { kernelFeatures } from '../sys/features';
import type { BpfProgram } from '../sys/native';

/**
 * Smaller than a service's: it keeps start-up light, and still holds the
 * first ~100 ms of a flood while V8 compiles the output path (at ~0.6 M
 * events/s, JSON to a file).
 */
const CLI_RING_BYTES = 4 << 20;

const SUBCOMMANDS = ['list', 'pinned', 'attach-pinned', 'unpin', 'info', 'serve', 'types'];

/**
 * The program the first probe of this command line will most likely use, read
 * from the raw arguments before yargs parses them (as ./options.ts orders
 * targets: positional ones, then --syscall, then --tracepoint); undefined
 * when it attaches nothing (a subcommand, --help) or sizes its maps itself.
 * A wrong guess costs only loading the other program at attach.
 */
export function programToPreload(args: readonly string[]): BpfProgram | undefined {
  if (args.some((a) => SUBCOMMANDS.includes(a))) return undefined;
  const sets = (flag: string) => args.some((a) => a === flag || a.startsWith(flag + '='));
  if (['--help', '-h', '--version', '-V', '-l', '--ring-size', '--max-counts', '--pin'].some(sets)) return undefined;
  const program = (kind: string): BpfProgram =>
    kind === 'profile' ? 'kn_perf_event' : kind === 'tracepoint' || (kind === 'syscall' && !kernelFeatures().kprobes) ? 'kn_tracepoint' : 'kn_kprobe';
  // Words with a kind (`t:sched:sched_switch`, `u:libc:malloc`); a bare word may be an option's value.
  for (const a of args) {
    if (a.startsWith('-') || !a.includes(':')) continue;
    try {
      return program(parseTarget(a).kind);
    } catch {
      // an option's value, e.g. --arg 'n=arg0:s32'
    }
  }
  if (sets('--syscall')) return program('syscall');
  if (sets('--tracepoint')) return program('tracepoint');
  return 'kn_kprobe';
}

/** Runs the command line `args` (scripts/kprobe-node, the installed command, calls this). */
export function start(args: string[]): void {
  if (!process.env.KPROBE_NODE_RING_BYTES) Session.configure({ ringBytes: CLI_RING_BYTES });
  const program = programToPreload(args);
  if (program !== undefined) Session.preload(program);
  void import('./args').then((cli) => cli.main(args));
}

if (require.main === module) start(process.argv.slice(2));
