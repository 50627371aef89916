/**
 * `kprobe-node types --kernel vfs_read`: declarations that type the events
 * of kprobes on kernel functions. The types come from the same plans the
 * probes decode with (the function's parameters by its BTF, as
 * attachKprobe() reads them by default), so they say what events carry.
 */
import * as os from 'os';
import { Btf } from '../btf';
import { toPlan } from '../core/plans';
import { CompiledArg, compileArg, defaultArgs, kprobeContext, kretprobeContext } from '../fetch';
import { OptionError } from '../errors';

export interface KernelTypesOptions {
  /** The module the declarations augment (default `kprobe-node`). */
  module?: string;
  /** The command that regenerates the file, for its header. */
  command?: string;
}

/** The TypeScript type of one argument's value in events. */
export function argTsType(arg: CompiledArg): string {
  const plan = toPlan(arg);
  let base: string;
  switch (plan.kind) {
    case 'i32':
    case 'u32':
      base = 'number';
      break;
    case 'i64':
    case 'u64':
      base = 'bigint';
      break;
    case 'bool':
      base = 'boolean';
      break;
    case 'string':
      // Read through a pointer: null when the kernel could not read it.
      return 'string | null';
    case 'bytes':
      return 'Buffer | null';
  }
  const names = arg.decode.kind === 'enum' ? arg.decode.names : undefined;
  if (names?.size) return [...new Set(names.values())].map((n) => JSON.stringify(n)).concat(base).join(' | ');
  return base;
}

/** The declaration file for `functions`, from this kernel's BTF. */
export function kernelTypes(functions: string[], opts: KernelTypesOptions = {}): string {
  if (!functions.length) throw new OptionError('name the kernel functions to type: kprobe-node types --kernel vfs_read tcp_sendmsg');
  const module = opts.module ?? 'kprobe-node';
  const entries: string[] = [];
  for (const name of [...new Set(functions)]) {
    const fn = Btf.requireFunction(name);
    const args = defaultArgs(kprobeContext(fn)).map((a) => `${a.label}: ${argTsType(a)}`);
    const ret = fn.returnType === 0 ? 'undefined' : argTsType(compileArg('retval', kretprobeContext(fn)));
    entries.push(`    /** ${fn.btf.prototype(fn)}${fn.btf.name !== 'vmlinux' ? ` [${fn.btf.name}]` : ''} */`);
    entries.push(`    ${name}: {`);
    entries.push(`      args: { ${args.join('; ')}${args.length ? ';' : ''} };`);
    entries.push(`      ret: ${ret};`);
    entries.push('    };');
  }
  const out = [
    `// Argument types of kernel functions, from the BTF of kernel ${os.release()}, written by kprobe-node types --kernel: do not edit.`,
    ...(opts.command ? [`// Regenerate with: ${opts.command}`] : []),
    `import '${module}';`,
    '',
    `declare module '${module}' {`,
    '  interface KernelFunctions {',
    ...entries,
    '  }',
    '}',
  ];
  return out.join('\n') + '\n';
}
