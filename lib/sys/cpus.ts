/**
 * The CPUs a sampling probe opens a perf event on, and the kernel's limit on
 * how often perf events may sample.
 */
import * as fs from 'fs';
import * as os from 'os';

/** A CPU list as sysfs writes it (`0-3,6,8-9`) as numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}

/** The online CPUs (/sys/devices/system/cpu/online), or 0..n-1 from os.cpus() where that cannot be read. */
export function onlineCpus(): number[] {
  try {
    const cpus = parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'latin1'));
    if (cpus.length) return cpus;
  } catch {
    // below
  }
  return os.cpus().map((_, i) => i);
}

/** The most samples a second a perf event may take (kernel.perf_event_max_sample_rate); undefined when unreadable. */
export function maxSampleRate(): number | undefined {
  try {
    const n = Number(fs.readFileSync('/proc/sys/kernel/perf_event_max_sample_rate', 'latin1').trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
