/**
 * The fetch compiler: argument and filter expressions, resolved against a
 * probe's BTF types into fetch programs (lib/sys/abi.ts) and value formatters.
 */
export { RAW, Types, knownWithoutBtf, type TypeRef, type View } from './ctype';
export {
  argRegs,
  fieldType,
  kprobeContext,
  kretprobeContext,
  rawContext,
  tracepointContext,
  type ContextParam,
  type ParamLocation,
  type ProbeContext,
  type ContextKind,
  type TracepointField,
} from './context';
export { FLAG_TABLES, flagsFromEnum, knownFlags, type FlagName } from './flags';
export { formatFlags, formatValue, type ArgDecoder, type DecodeKind, type RawValue } from './format';
export { parseFilter, type FilterOptions, type FilterResult } from './filter';
export { SUFFIXES, parseArg, parseConditions, tokenize, type ArgSpec, type Condition, type Expr, type Suffix, type TypeName } from './parse';
export {
  DEFAULT_MAX_STRING,
  compileArg,
  compileArgs,
  compileSpec,
  defaultArgs,
  isOutParameter,
  render,
  type CompileOptions,
  type CompiledArg,
} from './resolve';
