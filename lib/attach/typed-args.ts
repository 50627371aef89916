/**
 * Compile-time types of events' `args` (types only; nothing here runs).
 *
 * Kernel functions: `kprobe-node types --kernel vfs_read` writes a
 * declaration file that adds `vfs_read` to KernelFunctions (by module
 * augmentation), after which `attachKprobe('vfs_read')` events have typed
 * `args` and `attachKretprobe('vfs_read')` events a typed `ret`.
 *
 * Labels: with `args: ['name=file->f_path.dentry->d_name.name', 'count']`
 * written in the call, the event's `args` has exactly the keys `name` and
 * `count`; a value is typed by its `:suffix`, or as the function's parameter
 * of that name, else `unknown`.
 */

/**
 * Argument and return types of kernel functions by name, as the decoder
 * delivers them. Empty until a generated declaration file adds to it:
 *
 *   declare module 'kprobe-node' {
 *     interface KernelFunctions { vfs_read: { args: { file: bigint; ... }; ret: bigint } }
 *   }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface KernelFunctions {}

/** The shape every KernelFunctions entry has. */
export interface KernelFunctionTypes {
  args: Record<string, unknown>;
  ret: unknown;
}

type Trim<S extends string> = S extends ` ${infer R}` ? Trim<R> : S extends `${infer R} ` ? Trim<R> : S;
type NoSpaces<S extends string> = S extends `${infer A} ${infer B}` ? NoSpaces<`${A}${B}`> : S;

type WithoutLabel<S extends string> = S extends `${string}=${infer E}` ? E : S;
type WithoutSuffix<S extends string> = S extends `${infer E}:${string}` ? E : S;

/** The expression of an argument, without its label and `:suffix`, spaces removed (as the compiler names it). */
export type ArgExpression<S extends string> = NoSpaces<WithoutSuffix<WithoutLabel<S>>>;

/** The name an argument's value has in `event.args`: its label, else its expression. */
export type ArgLabel<S extends string> = S extends `${infer L}=${string}` ? Trim<L> : ArgExpression<S>;

/** What a `:suffix` makes a value. */
type SuffixType<X extends string> = X extends 'u8' | 'u16' | 'u32' | 's8' | 's16' | 's32' | 'x8' | 'x16' | 'x32'
  ? number
  : X extends 'u64' | 's64' | 'x64'
    ? bigint
    : X extends `string${string}` | `ustring${string}`
      ? string | null
      : X extends `bytes${string}`
        ? Buffer | null
        : X extends `enum${string}`
          ? string | number | bigint
          : unknown;

type Suffix<S extends string> = WithoutLabel<S> extends `${string}:${infer X}` ? Trim<X> : never;

type ParamsOf<F extends string> = [F] extends [keyof KernelFunctions]
  ? KernelFunctions[F] extends KernelFunctionTypes
    ? KernelFunctions[F]['args']
    : Record<string, unknown>
  : Record<string, unknown>;

/** The type of one argument expression's value. */
export type ArgType<F extends string, S extends string> = [Suffix<S>] extends [never]
  ? ArgExpression<S> extends keyof ParamsOf<F>
    ? ParamsOf<F>[ArgExpression<S>]
    : unknown
  : SuffixType<Suffix<S>>;

/**
 * `event.args` of a probe on `F` with argument expressions `A`: the
 * function's parameters when `A` is not given, the labels of `A` when it is
 * written in the call, and any names when neither is known.
 */
export type ArgsOf<F extends string, A extends readonly string[] | undefined> = [A] extends [readonly string[]]
  ? string[] extends A
    ? Record<string, unknown>
    : { [S in A[number] as ArgLabel<S>]: ArgType<F, S> }
  : ParamsOf<F>;

/** `event.ret` of a return probe on `F`. */
export type RetOf<F extends string> = [F] extends [keyof KernelFunctions]
  ? KernelFunctions[F] extends KernelFunctionTypes
    ? KernelFunctions[F]['ret']
    : unknown
  : unknown;
