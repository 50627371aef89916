/**
 * The TypeScript type of a value shape (lib/btf/values.ts): what the codec
 * returns, spelled out for generated typings.
 */
import type { Shape } from './values';

/**
 * Names of declared types: for a struct, union or enum with a declaration of
 * its own, the name to refer to it by; undefined writes it inline.
 */
export type TypeNamer = (s: Shape & { k: 'struct' | 'union' | 'enum' }) => string | undefined;

/** The TypeScript type of a value of shape `s`. */
export function tsType(s: Shape, name: TypeNamer = () => undefined, indent = ''): string {
  switch (s.k) {
    case 'int':
      return s.size <= 4 ? 'number' : 'bigint';
    case 'bool':
      return 'boolean';
    case 'float':
      return 'number';
    case 'ptr':
      return 'bigint';
    case 'string':
      return 'string';
    case 'bytes':
      return 'Uint8Array';
    case 'enum':
      return name(s) ?? enumType(s);
    case 'array': {
      const elem = tsType(s.elem, name, indent);
      return /[|&]/.test(elem) && !elem.startsWith('{') ? `Array<${elem}>` : `${elem}[]`;
    }
    case 'struct':
    case 'union':
      return name(s) ?? objectType(s, name, indent);
  }
}

/** An enum's names as string literals; a value that names none stays a number (a bigint for 64-bit enums). */
export function enumType(s: Shape & { k: 'enum' }): string {
  const names = [...new Set(s.names.values())].map((n) => JSON.stringify(n));
  return [...names, s.size > 4 ? 'bigint' : 'number'].join(' | ');
}

/** A struct's members by name; a union's are all there when read, and one is given when written. */
export function objectType(s: Shape & { k: 'struct' | 'union' }, name: TypeNamer = () => undefined, indent = ''): string {
  if (!s.members.length) return '{}';
  const inner = `${indent}  `;
  const opt = s.k === 'union' ? '?' : '';
  const lines = s.members.map((m) => `${inner}${m.name}${opt}: ${tsType(m.shape, name, inner)};`);
  return `{\n${lines.join('\n')}\n${indent}}`;
}
