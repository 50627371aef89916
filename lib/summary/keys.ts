/**
 * The keys of the kernel's `counts` map (struct kn_count_key.data) as values:
 * a comm, a pid, a number (with its enum name) or a string.
 */
import type { ArgPlan } from '../core/decode';
import { CountBy } from '../sys/abi';
import { cgroupPath, containerOf } from '../sys/cgroups';

/** A count key: a comm or string value, a pid or small number, a 64-bit value. */
export type CountKey = string | number | bigint;

export interface CountEntry {
  key: CountKey;
  count: number;
  /** The key as the CLI shows it: flags and enums by name, strings quoted. */
  label: string;
  /** The function or tracepoint counted, when a pattern matched several (`kprobe:vfs_read`). */
  probe?: string;
}

function cString(b: Buffer): Buffer {
  const end = b.indexOf(0);
  return end < 0 ? b : b.subarray(0, end);
}

/** Shown for the cgroups of tasks in no container. */
export const NO_CONTAINER = '(none)';

/**
 * One 16-byte key of the `counts` map (struct kn_count_key.data) as a value;
 * `container`: a cgroup id key as its container's id ('' for none).
 */
export function decodeKey(data: Buffer, by: CountBy | 'container', plan: ArgPlan | undefined, probeName: string): Omit<CountEntry, 'count'> {
  switch (by) {
    case CountBy.Cgroup: {
      const id = Number(data.readBigUInt64LE(0));
      return { key: id, label: cgroupPath(id) ?? `cgroup ${id}` };
    }
    case 'container': {
      const id = containerOf(Number(data.readBigUInt64LE(0))) ?? '';
      return { key: id, label: id ? id.slice(0, 12) : NO_CONTAINER };
    }
    case CountBy.Probe:
      return { key: probeName, label: probeName };
    case CountBy.Comm: {
      const comm = cString(data).toString('latin1');
      return { key: comm, label: comm };
    }
    case CountBy.Pid: {
      const pid = data.readUInt32LE(0);
      return { key: pid, label: String(pid) };
    }
    case CountBy.String: {
      const raw = cString(data);
      const key = plan?.kind === 'bytes' ? raw.toString('hex') : raw.toString('utf8');
      return { key, label: plan?.kind === 'bytes' ? key : JSON.stringify(key) };
    }
    case CountBy.Value: {
      const v = data.readBigUInt64LE(0);
      let key: CountKey;
      switch (plan?.kind) {
        case 'i32':
          key = Number(BigInt.asIntN(32, v));
          break;
        case 'u32':
          key = Number(BigInt.asUintN(32, v));
          break;
        case 'bool':
          key = v === 0n ? 0 : 1;
          break;
        case 'i64':
          key = BigInt.asIntN(64, v);
          break;
        default:
          key = v;
      }
      let shown: unknown = key;
      if (plan?.convert) {
        shown = plan.convert(key);
        if (typeof shown === 'string') key = shown; // an enum's name
      }
      return { key, label: plan?.format ? plan.format(shown) : String(shown) };
    }
  }
}
