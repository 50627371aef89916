/**
 * Argument plans that need no BTF: raw registers, the return register, and
 * tracepoint fields described by their format files.
 */
import { MAX_ARGS, Source, Store } from './abi';
import type { ArgPlan, ValueKind } from './decode';
import type { TracepointField } from './tracefs';

const hex = (v: unknown) => (typeof v === 'bigint' || typeof v === 'number' ? `0x${v.toString(16)}` : String(v));
const quoted = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const plain = (v: unknown) => String(v);

/** Default longest string fetched for one argument. */
export const DEFAULT_STRING_SIZE = 256;

/** arg0..argN-1 as 64-bit register values (no type information). */
export function registerPlans(count = 6): ArgPlan[] {
  return Array.from({ length: Math.min(count, 6) }, (_, i) => ({
    name: `arg${i}`,
    type: 'u64',
    fetch: { source: Source.Reg, reg: i, steps: [], store: Store.Value, size: 8 },
    kind: 'u64' as ValueKind,
    format: hex,
  }));
}

/** The return register of a return probe, as a signed 64-bit value. */
export function returnPlan(type = 'long'): ArgPlan {
  return {
    name: 'ret',
    type,
    fetch: { source: Source.Ret, steps: [], store: Store.Value, size: 8, signed: true },
    kind: 'i64',
    isReturn: true,
    format: plain,
  };
}

function isCharPointer(type: string): boolean {
  return /^(const\s+)?(unsigned\s+)?char\s*\*$/.test(type.trim());
}

/** Width of a C integer type when the record stores it wider (syscall arguments are longs). */
function declaredSize(type: string, fieldSize: number): number {
  const t = type.replace(/\bconst\b|\bvolatile\b/g, '').trim();
  if (t.endsWith('*')) return 8;
  if (/^(unsigned )?char$|^[us]8$|^bool$/.test(t)) return 1;
  if (/^(unsigned )?short$|^[us]16$|^umode_t$/.test(t)) return 2;
  if (/^(unsigned )?int$|^unsigned$|^[us]32$|^pid_t$|^uid_t$|^gid_t$|^key_serial_t$|^qid_t$|^clockid_t$|^timer_t$|^mqd_t$|^rwf_t$/.test(t)) return 4;
  return fieldSize;
}

function isSigned(type: string, fallback: boolean): boolean {
  const t = type.replace(/\bconst\b|\bvolatile\b/g, '').trim();
  if (t.endsWith('*') || /unsigned|^u\d+$|^size_t$|^umode_t$|^uid_t$|^gid_t$|^bool$/.test(t)) return false;
  if (/^(int|long|short|char|long long|s\d+|pid_t|ssize_t|loff_t|off_t|key_serial_t|clockid_t)$/.test(t)) return true;
  return fallback;
}

/**
 * One plan per field. `userPointers`: pointer fields point into user memory
 * (syscall arguments), so strings are read from there.
 */
export function tracepointPlans(fields: readonly TracepointField[], userPointers: boolean, stringSize = DEFAULT_STRING_SIZE): ArgPlan[] {
  const plans: ArgPlan[] = [];
  for (const f of fields) {
    if (f.common || f.name === '__syscall_nr' || plans.length >= MAX_ARGS) continue;
    if (f.type.startsWith('__data_loc')) {
      plans.push({
        name: f.name,
        type: f.type,
        fetch: { source: Source.Ctx, steps: [], store: Store.DataLoc, offset: f.offset, size: stringSize },
        kind: 'string',
        format: quoted,
      });
    } else if (isCharPointer(f.type)) {
      plans.push({
        name: f.name,
        type: f.type,
        fetch: {
          source: Source.Ctx,
          steps: [{ offset: f.offset, user: false }],
          store: userPointers ? Store.StrUser : Store.Str,
          size: stringSize,
        },
        kind: 'string',
        format: quoted,
      });
    } else if (/^(char|unsigned char|u8)\s*\[\d+\]$/.test(f.type)) {
      plans.push({
        name: f.name,
        type: f.type,
        fetch: { source: Source.Ctx, steps: [], store: Store.Str, offset: f.offset, size: f.size },
        kind: 'string',
        format: quoted,
      });
    } else {
      const size = f.type.includes('[') ? 8 : declaredSize(f.type, f.size);
      const signed = isSigned(f.type, f.signed);
      const pointer = f.type.trim().endsWith('*');
      plans.push({
        name: f.name,
        type: f.type,
        fetch: { source: Source.Ctx, steps: [], store: Store.Mem, offset: f.offset, size: Math.min(size, 8), signed },
        kind: size === 8 ? (signed ? 'i64' : 'u64') : signed ? 'i32' : 'u32',
        format: pointer ? hex : plain,
      });
    }
  }
  return plans;
}
