/**
 * Filters: `flags & 0x40 && count > 4096 && comm == "bash"`. Each condition
 * compares one fetched value with a constant in the kernel (lib/sys/abi.ts
 * FetchFilter); values that are not shown are fetched as hidden arguments.
 * `comm`, `pid`, `tid` and `uid` (or `$comm`, … when a parameter has that
 * name) become the probe's cheaper task filters instead.
 */
import { COMM_LEN, FetchFilter, FilterOp, MAX_ARGS, MAX_FILTERS } from '../sys/abi';
import { ExpressionError } from '../errors';
import { closest } from '../sys/names';
import type { ProbeContext } from './context';
import type { ArgDecoder } from './format';
import { CompileOptions, CompiledArg, compileSpec } from './resolve';
import { CompareOp, Condition, Literal, parseConditions } from './parse';

export interface FilterResult {
  /** Hidden arguments to append after the probe's own (filters index the combined list). */
  args: CompiledArg[];
  filters: FetchFilter[];
  comm?: string;
  pid?: number;
  tid?: number;
  uid?: number;
}

export interface FilterOptions extends CompileOptions {
  /** The probe's visible arguments; a condition on one of them reuses it. */
  args?: readonly CompiledArg[];
}

const TASK_FIELDS = ['comm', 'pid', 'tid', 'uid'] as const;
type TaskField = (typeof TASK_FIELDS)[number];

const UNSIGNED_OPS: Record<CompareOp, FilterOp> = {
  '==': FilterOp.Eq, '!=': FilterOp.Ne, '<': FilterOp.Lt, '<=': FilterOp.Le, '>': FilterOp.Gt, '>=': FilterOp.Ge, '&': FilterOp.And,
};
const SIGNED_OPS: Record<CompareOp, FilterOp> = {
  ...UNSIGNED_OPS, '<': FilterOp.SLt, '<=': FilterOp.SLe, '>': FilterOp.SGt, '>=': FilterOp.SGe,
};

function sameFetch(a: CompiledArg, b: CompiledArg): boolean {
  const strip = (x: CompiledArg) => JSON.stringify({ ...x.fetch, hidden: undefined });
  return strip(a) === strip(b);
}

/** Parses and compiles a filter. Throws ExpressionError. */
export function parseFilter(text: string, ctx: ProbeContext, opts: FilterOptions = {}): FilterResult {
  const conds = parseConditions(text);
  const existing = opts.args ?? [];
  const out: FilterResult = { args: [], filters: [] };
  const err = (pos: number, msg: string, members?: string[]) => new ExpressionError(text, pos, msg, members);

  for (const c of conds) {
    const task = taskField(c, ctx);
    if (task) {
      setTask(out, task, c, err);
      continue;
    }
    const arg = compileSpec({ source: text, expr: c.left, exprText: c.leftText, suffix: c.suffix }, ctx, { ...opts, hidden: true });
    let index = existing.findIndex((a) => sameFetch(a, arg));
    if (index < 0) {
      const j = out.args.findIndex((a) => sameFetch(a, arg));
      if (j >= 0) index = existing.length + j;
    }
    if (index < 0) {
      if (existing.length + out.args.length >= MAX_ARGS) {
        throw err(c.pos, `too many values: a probe fetches at most ${MAX_ARGS} (its arguments and the values its filters compare)`);
      }
      index = existing.length + out.args.length;
      out.args.push(arg);
    }
    const filter = compare(arg.decode, c, index, ctx, err);
    if (out.filters.length >= MAX_FILTERS) throw err(c.pos, `too many conditions: at most ${MAX_FILTERS} per probe`);
    out.filters.push(filter);
  }
  return out;
}

/** `comm`, `pid`, …: a task filter, unless the probe has a parameter of that name (then `$comm`). */
function taskField(c: Condition, ctx: ProbeContext): TaskField | null {
  if (c.left.type !== 'name' || c.suffix) return null;
  const n = c.left.name;
  if (n.startsWith('$') && (TASK_FIELDS as readonly string[]).includes(n.slice(1))) return n.slice(1) as TaskField;
  if ((TASK_FIELDS as readonly string[]).includes(n) && !ctx.params.some((p) => p.name === n)) return n as TaskField;
  return null;
}

function setTask(out: FilterResult, f: TaskField, c: Condition, err: (pos: number, msg: string) => ExpressionError): void {
  if (c.op !== '==') throw err(c.opPos, `'${c.leftText}' can only be compared with '=='`);
  if (out[f] !== undefined) throw err(c.pos, `'${c.leftText}' is compared twice`);
  if (f === 'comm') {
    if (c.right.type !== 'string') throw err(c.right.pos, `compare comm with a quoted name, e.g. comm == "bash"`);
    if (c.right.value.length > COMM_LEN - 1) {
      throw err(c.right.pos, `a task name has at most ${COMM_LEN - 1} characters; '${c.right.value}' never matches`);
    }
    out.comm = c.right.value;
    return;
  }
  if (c.right.type !== 'number' || c.right.value < 0n || c.right.value > 0xffffffffn) {
    throw err(c.right.pos, `compare ${f} with a number, e.g. ${f} == 1234`);
  }
  out[f] = Number(c.right.value);
}

function compare(
  d: ArgDecoder,
  c: Condition,
  arg: number,
  ctx: ProbeContext,
  err: (pos: number, msg: string, members?: string[]) => ExpressionError,
): FetchFilter {
  const r = c.right;
  if (d.kind === 'string') {
    if (r.type !== 'string') throw err(r.pos, `'${c.leftText}' is a string: compare it with a quoted string`);
    if (c.op !== '==') throw err(c.opPos, `strings can only be compared with '=='`);
    if (r.value.length > COMM_LEN - 1) {
      throw err(r.pos, `string filters compare at most ${COMM_LEN - 1} characters; '${r.value}' has ${r.value.length}`);
    }
    return { arg, op: FilterOp.StrEq, str: r.value };
  }
  if (d.kind === 'bytes') throw err(c.pos, `'${c.leftText}' is a byte array; filters compare numbers and strings`);
  if (r.type === 'string') throw err(r.pos, `'${c.leftText}' is ${d.type}, not a string: compare it with a number`);
  const value = constant(d, r, ctx, err);
  const bits = d.bitSize || d.size * 8;
  if (d.signed) {
    const min = -(1n << BigInt(bits - 1));
    const max = (1n << BigInt(bits - 1)) - 1n;
    if (value < min || value > max) throw err(r.pos, `${lit(r)} does not fit in '${c.leftText}' (${d.type}, ${bits} bits, signed)`);
  } else {
    if (value < 0n) throw err(r.pos, `'${c.leftText}' is unsigned (${d.type}): ${lit(r)} is negative`);
    if (value >= 1n << BigInt(bits)) throw err(r.pos, `${lit(r)} does not fit in '${c.leftText}' (${d.type}, ${bits} bits)`);
  }
  const op = (d.signed ? SIGNED_OPS : UNSIGNED_OPS)[c.op];
  // The kernel sign-extends signed values to 64 bits before comparing.
  return { arg, op, operand: BigInt.asUintN(64, value) };
}

function lit(r: Literal): string {
  return r.type === 'number' ? r.text : r.type === 'name' ? r.name : JSON.stringify(r.value);
}

/** A number, or a name: an enumerator of the value's enum, a flag of its flag set, any enum's constant, true/false/NULL. */
function constant(d: ArgDecoder, r: Literal, ctx: ProbeContext, err: (pos: number, msg: string) => ExpressionError): bigint {
  if (r.type === 'number') return r.value;
  if (r.type !== 'name') throw err(r.pos, 'expected a number');
  const name = r.name;
  if (d.names) {
    for (const [v, n] of d.names) if (n === name) return v;
  }
  if (d.flags) {
    const f = d.flags.find((x) => x.name === name);
    if (f) return f.value;
  }
  if (name === 'true') return 1n;
  if (name === 'false' || name === 'NULL') return 0n;
  const found = ctx.btf?.findEnumerator(name) ?? [];
  if (found.length) return found[0].value;
  const known = [...(d.names?.values() ?? []), ...(d.flags?.map((f) => f.name) ?? [])];
  const sugg = closest(name, known);
  throw err(r.pos, `unknown constant '${name}'${sugg.length ? ` (did you mean ${sugg[0]}?)` : ''}${d.enumName ? `; enum ${d.enumName} has: ${known.slice(0, 20).join(', ')}` : ''}`);
}
