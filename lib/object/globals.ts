/**
 * A BPF object's global variables as properties: `const volatile` ones
 * (.rodata) are written into the object's initial data until load and are
 * read-only after; the others (.data, .bss) are read and written in the
 * kernel's memory once loaded (mmap), in the initial data before.
 */
import { OptionError } from '../errors';
import { Codec, codecFor } from '../btf/values';
import type { NativeBpfObject } from '../sys/native-object';
import type { ObjectFile, ObjectVariable } from './parse';

/** How variables reach their object. */
export interface DataAccess {
  /** The object's name, for messages. */
  object: string;
  handle: NativeBpfObject;
  state(): 'opened' | 'loaded' | 'closed';
}

/** An object with a property per variable that `which` picks; no other property can be added. */
export function variableView(file: ObjectFile, which: (v: ObjectVariable) => boolean, data: DataAccess): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const v of file.variables.filter(which)) {
    let codec: Codec | undefined;
    const c = () => (codec ??= codecFor(file.btf, v.type));
    Object.defineProperty(view, v.name, {
      enumerable: true,
      get: () => readVariable(data, v, c()),
      set: (value: unknown) => writeVariable(data, v, c(), value),
    });
  }
  return Object.preventExtensions(view);
}

export function readVariable(data: DataAccess, v: ObjectVariable, codec: Codec): unknown {
  const state = data.state();
  if (state === 'closed') throw new OptionError(`read ${v.name}: the object ${data.object} is closed`);
  if (state === 'opened') {
    const init = data.handle.initialValue(v.section);
    if (!init) throw new OptionError(`read ${v.name}: ${v.section} has no initial value`);
    return codec.decode(init, v.offset);
  }
  return codec.decode(data.handle.readGlobal(v.section, v.offset, codec.size), 0);
}

export function writeVariable(data: DataAccess, v: ObjectVariable, codec: Codec, value: unknown): void {
  const where = `${v.readonly ? 'rodata' : 'globals'}.${v.name}`;
  const bytes = Buffer.alloc(codec.size);
  codec.encode(value, bytes, 0, where);
  const state = data.state();
  if (state === 'closed') throw new OptionError(`set ${where}: the object ${data.object} is closed`);
  if (state === 'opened') {
    const init = data.handle.initialValue(v.section);
    if (!init) throw new OptionError(`set ${where}: ${v.section} has no initial value`);
    bytes.copy(init, v.offset);
    data.handle.setInitialValue(v.section, init);
    return;
  }
  if (v.readonly) throw new OptionError(`set ${where}: const volatile globals are frozen once the object is loaded; set them before load()`);
  data.handle.writeGlobal(v.section, v.offset, bytes);
}
