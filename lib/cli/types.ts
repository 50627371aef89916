/**
 * `types <object.bpf.o>` and `types --kernel <function...>`: TypeScript
 * declarations for a BPF object, or for kernel functions' arguments,
 * printed or written to --out.
 */
import * as fs from 'fs';
import { OptionError } from '../errors';
import { ObjectFile } from '../object/parse';
import { kernelTypes, objectTypes } from '../typegen';

export interface TypesArgs {
  names: string[];
  kernel: boolean;
  out?: string;
  name?: string;
  module?: string;
}

export function types(argv: TypesArgs): void {
  const command = `kprobe-node types ${argv.kernel ? '--kernel ' : ''}${argv.names.join(' ')}${argv.out ? ` -o ${argv.out}` : ''}`;
  let text: string;
  if (argv.kernel) {
    text = kernelTypes(argv.names, { command, ...(argv.module ? { module: argv.module } : {}) });
  } else {
    if (argv.names.length !== 1) throw new OptionError('types takes one BPF object (or --kernel and function names)');
    text = objectTypes(ObjectFile.read(argv.names[0]), { command, ...(argv.name ? { specName: argv.name } : {}) });
  }
  if (argv.out) fs.writeFileSync(argv.out, text);
  else process.stdout.write(text);
}
