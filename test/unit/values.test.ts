/**
 * The BTF value codec (lib/btf/values.ts) and the TypeScript types it
 * matches (lib/btf/typescript.ts), on a struct compiled by clang with every
 * kind of member: its layout is checked against gcc's for the same C on
 * this machine, values survive a round trip and land where C puts them, and
 * bad values are refused with the member's path and what would fit. The
 * same codec reads kernel types from the kernel's own BTF.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { codecFor, valueShape } from '../../lib/btf/values';
import { objectType, tsType } from '../../lib/btf/typescript';
import { ObjectFile } from '../../lib/object/parse';
import { compileBpf } from '../helpers/clang';

const TYPES = String.raw`
#include <linux/types.h>
enum color { RED = 1, GREEN = 2, BLUE = 4 };
struct inner { __u8 a; __s16 b; };
union number { __u32 u; __s32 s; float f; };
typedef struct { __u64 x; } anon_t;
struct all {
  char name[8];
  __u8 bytes[3];
  __s64 s64;
  __u64 u64;
  __s32 s32;
  __u16 u16;
  _Bool flag;
  float f;
  double d;
  enum color color;
  struct inner inners[2];
  union number num;
  void *ptr;
  __int128 wide;
  unsigned int bf1 : 3;
  int bf2 : 5;
  enum color bfc : 4;
  struct { int anon_a; };
  anon_t td;
  __u32 matrix[2][3];
};
`;

const MEMBERS = ['name', 'bytes', 's64', 'u64', 's32', 'u16', 'flag', 'f', 'd', 'color', 'inners', 'num', 'ptr', 'wide', 'anon_a', 'td', 'matrix'];

let dir: string;
let file: ObjectFile;
let all: number;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-values-'));
  file = ObjectFile.read(compileBpf('types', `${TYPES}\nstruct all *unused_all __attribute__((unused));\n`, { dir }));
  all = file.findType('struct all')!;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sample = {
  name: 'abc',
  bytes: new Uint8Array([1, 2, 255]),
  s64: -5n,
  u64: 0xffff_ffff_ffff_fffen,
  s32: -70000,
  u16: 65535,
  flag: true,
  f: 1.5,
  d: -2.25,
  color: 'BLUE',
  inners: [{ a: 1, b: -2 }, { a: 255, b: 32767 }],
  num: { s: -1 },
  ptr: 0xffff_8880_1234_5678n,
  wide: -(1n << 100n),
  bf1: 5,
  bf2: -9,
  bfc: 'GREEN',
  anon_a: 42,
  td: { x: 7n },
  matrix: [[1, 2, 3], [4, 5, 6]],
};

test("the struct's layout is the one gcc gives the same C on this machine", () => {
  const c = path.join(dir, 'layout.c');
  fs.writeFileSync(c, `#include <stdio.h>\n#include <stddef.h>\n${TYPES}\nint main(void) {\n  printf("size %zu\\n", sizeof(struct all));\n` +
    MEMBERS.map((m) => `  printf("${m} %zu\\n", offsetof(struct all, ${m}));\n`).join('') + '  return 0;\n}\n');
  execFileSync('gcc', ['-o', path.join(dir, 'layout'), c]);
  const lines = execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' '));
  const shape = valueShape(file.btf, all);
  if (shape.k !== 'struct') throw new Error('not a struct');
  const ours: Record<string, number> = { size: shape.size };
  for (const f of shape.members) if (MEMBERS.includes(f.name)) ours[f.name] = f.bitOffset / 8;
  expect(ours).toEqual(Object.fromEntries(lines.map(([k, v]) => [k, Number(v)])));
});

test('every kind of member survives a round trip, as the values C would read', () => {
  const codec = codecFor(file.btf, all);
  expect(codec.size).toBe(144);
  expect(codec.type).toBe('struct all');
  const buf = Buffer.alloc(codec.size);
  codec.encode(sample, buf, 0, 'value');
  const back = codec.decode(buf, 0) as Record<string, unknown>;
  expect(back).toEqual({ ...sample, num: { u: 0xffffffff, s: -1, f: expect.any(Number) } });
  // Where C puts them:
  expect(buf.toString('latin1', 0, 4)).toBe('abc\0');
  expect(buf.readBigInt64LE(16)).toBe(-5n);
  expect(buf.readUInt32LE(56)).toBe(4); // BLUE
  expect(buf.readInt16LE(62)).toBe(-2); // inners[0].b
  // bf1 = 5 (3 bits) at bit 0 of byte 96, bf2 = -9 (5 bits) above it, bfc = GREEN (2) in the next byte.
  expect(buf[96]).toBe((5 | ((-9 & 0x1f) << 3)) & 0xff);
  expect(buf[97] & 0xf).toBe(2);
  expect(buf.readUInt32LE(112 + 5 * 4)).toBe(6); // matrix[1][2]
});

test('an enum value that names no enumerator stays a number', () => {
  const codec = codecFor(file.btf, all);
  const buf = Buffer.alloc(codec.size);
  buf.writeUInt32LE(3, 56);
  expect((codec.decode(buf, 0) as { color: unknown }).color).toBe(3);
  const e = Buffer.alloc(codec.size);
  codec.encode({ color: 3 }, e, 0, 'value');
  expect(e.readUInt32LE(56)).toBe(3);
});

test('bad values are refused with the path of the member and what fits', () => {
  const codec = codecFor(file.btf, all);
  const put = (v: unknown) => () => codec.encode(v, Buffer.alloc(codec.size), 0, 'value');
  expect(put({ nam: 'x' })).toThrow(/^value: struct all has no member nam \(it has name, bytes, s64, .*anon_a, td, matrix\)$/);
  expect(put({ name: 'x'.repeat(9) })).toThrow('value.name: "xxxxxxxxx" is 9 bytes; char[8] holds at most 8');
  expect(put({ u16: 65536 })).toThrow('value.u16: 65536 does not fit in u16 (0..65535)');
  expect(put({ s32: 1.5 })).toThrow('value.s32: expected an integer, got 1.5');
  expect(put({ u64: 2 ** 64 })).toThrow(/value\.u64: .* does not fit in u64/);
  expect(put({ color: 'PURPLE' })).toThrow('value.color: "PURPLE" is not an enumerator of enum color (RED, GREEN, BLUE)');
  expect(put({ inners: [{}, { b: 'x' }] })).toThrow('value.inners[1].b: expected an integer, got "x"');
  expect(put({ inners: [{}, {}, {}] })).toThrow('value.inners: 3 elements do not fit in [2]');
  expect(put({ num: { u: 1, s: 2 } })).toThrow('value.num: a union takes one member, got u, s');
  expect(put({ bytes: [1, 2, 3, 4] })).toThrow('value.bytes: 4 bytes do not fit in 3');
  expect(put({ bf1: 8 })).toThrow('value.bf1: 8 does not fit in u3 (0..7)');
  expect(put({ flag: 'yes' })).toThrow('value.flag: expected a boolean, got "yes"');
  expect(put('x')).toThrow(/^value: expected an object \(struct all: name, bytes/);
});

test('the TypeScript type says what the codec returns', () => {
  const shape = valueShape(file.btf, all);
  if (shape.k !== 'struct') throw new Error('not a struct');
  const named = (s: { k: string; name: string }) => (s.k === 'enum' ? `enum_${s.name}` : undefined);
  expect(objectType(shape, named)).toBe(
    [
      '{',
      '  name: string;',
      '  bytes: Uint8Array;',
      '  s64: bigint;',
      '  u64: bigint;',
      '  s32: number;',
      '  u16: number;',
      '  flag: boolean;',
      '  f: number;',
      '  d: number;',
      '  color: enum_color;',
      '  inners: {',
      '    a: number;',
      '    b: number;',
      '  }[];',
      '  num: {',
      '    u?: number;',
      '    s?: number;',
      '    f?: number;',
      '  };',
      '  ptr: bigint;',
      '  wide: bigint;',
      '  bf1: number;',
      '  bf2: number;',
      '  bfc: enum_color;',
      '  anon_a: number;',
      '  td: {',
      '    x: bigint;',
      '  };',
      '  matrix: number[][];',
      '}',
    ].join('\n'),
  );
  expect(tsType(valueShape(file.btf, file.findType('enum color')!))).toBe('"RED" | "GREEN" | "BLUE" | number');
});
