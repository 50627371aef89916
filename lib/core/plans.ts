/**
 * From compiled arguments (lib/fetch) to argument plans the event decoder
 * runs: how each payload entry is read, converted and shown.
 */
import type { ArgPlan, ValueKind } from './decode';
import { CompiledArg, formatValue } from '../fetch';

function valueKind(arg: CompiledArg): ValueKind {
  const d = arg.decode;
  if (d.kind === 'string') return 'string';
  if (d.kind === 'bytes') return 'bytes';
  if (d.kind === 'bool') return 'bool';
  // Pointers stay bigints; other scalars of up to 32 bits become numbers.
  const bits = d.bitSize || Math.min(8, d.size || 8) * 8;
  if (bits <= 32 && d.kind !== 'pointer') return d.signed ? 'i32' : 'u32';
  return d.signed ? 'i64' : 'u64';
}

/** The plan for one compiled argument; `isReturn` sends it to `event.ret`. */
export function toPlan(arg: CompiledArg, isReturn = false): ArgPlan {
  const d = arg.decode;
  const plan: ArgPlan = { name: isReturn ? 'ret' : arg.label, type: d.type, fetch: arg.fetch, kind: valueKind(arg) };
  if (isReturn) plan.isReturn = true;
  if (d.kind === 'enum' && d.names) {
    const names = d.names;
    plan.convert = (v) => names.get(BigInt(v as number | bigint)) ?? v;
  }
  plan.format = (v) => {
    if (typeof v === 'string') return d.kind === 'string' ? JSON.stringify(v) : v; // strings, enum names
    if (typeof v === 'boolean') return String(v);
    if (Buffer.isBuffer(v) || typeof v === 'bigint' || typeof v === 'number') return formatValue(d, v);
    return String(v);
  };
  return plan;
}
