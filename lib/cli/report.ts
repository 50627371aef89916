/**
 * What the CLI says besides events: one-line failures (exit 2 for a bad
 * option, 1 for anything else), warnings, how each probe was attached, and
 * with -v how the BPF programs were loaded.
 */
import type { Target } from '../attach';
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { ConfigError, KprobeNodeError, OptionError } from '../errors';
import { kernelFeatures } from '../sys/features';
import { isGlob } from '../sys/glob';
import { bpfObjectPath, native } from '../sys/native';

/** Prints `kprobe-node: <reason>` and exits (2 for bad input); the full verifier log only with KPROBE_NODE_DEBUG. */
export function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`kprobe-node: ${message}\n`);
  if (process.env.KPROBE_NODE_DEBUG && e instanceof KprobeNodeError && e.log) process.stderr.write(e.log + '\n');
  process.exit(e instanceof OptionError || e instanceof ConfigError ? 2 : 1);
}

export function say(line: string): void {
  process.stderr.write(`kprobe-node: ${line}\n`);
}

/** Says how many events were lost at most once a second, each time what was lost since: a flood loses some in every batch. */
export class LossReport {
  private pending = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly message: (n: number) => string) {}

  add(n: number): void {
    this.pending += n;
    if (this.timer) return;
    this.say();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.pending) this.add(0);
    }, 1000).unref();
  }

  /** Says what is still untold (at the end of a run). */
  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.say();
  }

  private say(): void {
    if (this.pending) say(this.message(this.pending));
    this.pending = 0;
  }
}

/** What a pattern of this kind matches, in words. */
const MATCHES: Partial<Record<Target['kind'], string>> = { kprobe: 'functions', kretprobe: 'functions', tracepoint: 'tracepoints', syscall: 'syscalls' };

/** What the user should know once a probe is attached: warnings, pattern totals, --explain. */
export function reportAttached(t: Target, probe: Probe, explain: boolean): void {
  for (const w of probe.warnings) say(`warning: ${w}`);
  const noun = MATCHES[t.kind];
  if (noun && 'name' in t && isGlob(t.name)) {
    const attached = t.kind === 'kprobe' || t.kind === 'kretprobe' ? probe.functions.length : (probe.partPlans?.size ?? 0);
    const total = attached + probe.skipped.length;
    say(`${t.name}: attached ${attached} of ${total} ${total === 1 ? noun.slice(0, -1) : noun}, ${probe.skipped.length} skipped`);
    if (explain) for (const s of probe.skipped) say(`  skipped ${s.name}: ${s.reason}`);
  }
  if (explain) {
    for (const l of [`${probe.name}: ${probe.strategy}`, ...probe.explain.split('\n').filter(Boolean).map((l) => `  ${l}`)]) say(l);
  }
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

/**
 * -v: the kernel's features, the BPF object and the programs loaded from it
 * (with the kernel's ids, for bpftool), the maps' sizes, and whether this
 * process is left out.
 */
export function reportLoad(probes: readonly Probe[], selfExcluded: boolean): void {
  const f = kernelFeatures();
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  say(`kernel ${f.release}: BTF ${yes(f.btf)}, kprobes ${yes(f.kprobes)}, uprobes ${yes(f.uprobes)}; libbpf ${native().libbpfVersion}`);
  const session = Session.get();
  const info = session.info();
  const ids: Array<[string, number | undefined]> = [
    ['kn_kprobe', info.kprobeProgram],
    ['kn_tracepoint', info.tracepointProgram],
    ['kn_perf_event', info.perfEventProgram],
  ];
  const loaded = ids.filter(([, id]) => id).map(([name, id]) => `${name} (id ${id})`);
  const copies = (info.tracepointPrograms?.length ?? 1) - 1;
  say(`loaded ${bpfObjectPath}: ${loaded.join(', ') || 'no program yet'}${copies > 0 ? `, and ${copies} copies of kn_tracepoint for tracepoints traced twice` : ''}`);
  const s = session.options;
  say(`maps: a ${mib(s.ringBytes)} ring buffer shared by every probe, ${s.maxProbes} probe slots, a count map of ${s.maxCounts} entries; ${info.links ?? 0} links attached`);
  for (const p of probes) {
    const args = p.args.length ? `arguments ${p.args.map((a) => `${a.name} (${a.type})`).join(', ')}` : 'no arguments';
    say(`${p.name}: ${p.kind}, ${p.partPlans ? `${p.partPlans.size} parts from probe id ${p.id} on, each with its own arguments` : `probe id ${p.id}, ${args}`}`);
  }
  say(selfExcluded ? `this process (pid ${process.pid}) is left out of every probe, in the kernel (--include-self keeps it)` : `this process (pid ${process.pid}) is traced too`);
}
