/**
 * CPU sampling (`profile:hz:99`): a CPU-clock perf event on every online CPU
 * runs the sampling program at a fixed rate, in the context of whatever
 * task that CPU is running, idle included. Events carry the task (pid,
 * comm, cpu) and, with `stack`, its kernel and user stacks; --pid and the
 * other task filters keep the samples of one process, in the kernel.
 */
import type { Probe } from '../core/probe';
import { Session } from '../core/session';
import { OptionError } from '../errors';
import type { ProbeContext } from '../fetch';
import { maxSampleRate, onlineCpus } from '../sys/cpus';
import { checkPrivileges } from '../sys/features';
import { SummaryConfig, compile } from './compile';
import { ProbeOptions, checkOptions } from './options';
import { attachEach } from './parts';
import { ProfileTarget, formatTarget } from './target';

/** Nanoseconds per unit of a period (the CPU clock counts nanoseconds). */
const NS: Record<Exclude<ProfileTarget['unit'], 'hz'>, number> = { s: 1e9, ms: 1e6, us: 1e3 };

/** A sample has no arguments: what it says is who was on the CPU, and the stacks. */
function profileContext(name: string): ProbeContext {
  return { kind: 'profile', name, params: [], argN: [], prototype: `${name}()`, kernel: true };
}

/** The perf event's rate: samples a second (frequency), or the period in ns. */
function sampling(t: ProfileTarget): { rate: number; frequency: boolean; hz: number } {
  if (!Number.isSafeInteger(t.rate) || t.rate < 1) throw new OptionError(`the sampling rate must be a positive integer, got ${String(t.rate)}`);
  const s = t.unit === 'hz' ? { rate: t.rate, frequency: true, hz: t.rate } : { rate: t.rate * NS[t.unit], frequency: false, hz: 1e9 / (t.rate * NS[t.unit]) };
  const max = maxSampleRate();
  if (max !== undefined && s.hz > max) {
    throw new OptionError(`${formatTarget(t)} samples ${Math.round(s.hz)} times a second; this kernel allows at most ${max} (kernel.perf_event_max_sample_rate)`);
  }
  return s;
}

/** Samples every CPU as `t` says, in `session`. */
export function attachProfileTarget(t: ProfileTarget, opts: ProbeOptions | undefined, session: Session | undefined, summary?: SummaryConfig): Probe {
  const o = checkOptions(opts);
  if (o.args?.length) throw new OptionError(`${formatTarget(t)} has no arguments: a sample is the task on the CPU (pid, comm, cpu) and, with stack, its stacks`);
  const s = sampling(t);
  checkPrivileges();
  const name = formatTarget(t);
  const cpus = onlineCpus();
  const compiled = compile(profileContext(name), o, undefined, summary);
  let skipped: ReturnType<typeof attachEach>['skipped'] = [];
  const warnings: string[] = [];
  const how = s.frequency ? `${s.rate} times a second` : `every ${t.rate} ${t.unit} of CPU time`;
  const probe = (session ?? Session.get()).attach({
    name,
    kind: 'profile',
    strategy: `a CPU-clock perf event on each of ${cpus.length} CPUs, sampling ${how}`,
    parts: [{ name, plans: compiled.plans, config: compiled.config }],
    attach: (tracer, [cookie]) => {
      const done = attachEach(cpus.map(String), cpus.map(() => cookie), (cpu) => tracer.attachPerfEvent(Number(cpu), s.rate, s.frequency, cookie), { kind: 'perf event on CPU', things: 'CPUs' });
      skipped = done.skipped;
      return done.links;
    },
    warnings,
    describe: `attach ${name}`,
  });
  probe.skipped = skipped.map((x) => ({ name: `cpu ${x.name}`, reason: x.reason }));
  if (skipped.length) warnings.push(`${skipped.length} of ${cpus.length} CPUs could not be sampled (probe.skipped says why)`);
  probe.explain = [
    `${name}: a software perf event (PERF_COUNT_SW_CPU_CLOCK) on each online CPU (${cpus.join(',')}), ${s.frequency ? 'in frequency mode' : 'with a fixed period'}: ${how} per CPU, whatever runs there, the idle task included`,
    'the sampling program runs as a perf_event BPF program; task filters (--pid, --comm) apply in the kernel',
  ].join('\n');
  return probe;
}
