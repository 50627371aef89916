/**
 * Reading a BPF object without the kernel (lib/object/parse.ts): programs
 * and what their sections say, maps as libbpf reads them (checked against
 * libbpf itself, which opens an object without privileges), global
 * variables where libbpf puts their initial values, and the declarations
 * `kprobe-node types` writes from all that.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { codecFor } from '../../lib/btf/values';
import { MAP_TYPES, ObjectFile } from '../../lib/object/parse';
import { parseSection } from '../../lib/object/sections';
import { native } from '../../lib/sys/native';
import { objectTypes, pascal } from '../../lib/typegen';
import { compileBpf } from '../helpers/clang';
import { COUNTER_SOURCE, tempDir } from '../helpers/objects';

let dir: string;
let counter: string;
let file: ObjectFile;

beforeAll(() => {
  dir = tempDir();
  counter = compileBpf('counter', COUNTER_SOURCE, { dir });
  file = ObjectFile.read(counter);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('sections say where programs attach, in libbpf conventions', () => {
  expect(parseSection('kprobe/vfs_read')).toEqual({ kind: 'kprobe', target: 'vfs_read', auto: true });
  expect(parseSection('kretprobe/do_unlinkat')).toEqual({ kind: 'kretprobe', target: 'do_unlinkat', auto: true });
  expect(parseSection('kprobe')).toEqual({ kind: 'kprobe', auto: false });
  expect(parseSection('ksyscall/openat')).toEqual({ kind: 'ksyscall', target: 'openat', auto: true });
  expect(parseSection('tracepoint/sched/sched_switch')).toEqual({ kind: 'tracepoint', target: 'sched:sched_switch', auto: true });
  expect(parseSection('tp/block/block_rq_issue')).toEqual({ kind: 'tracepoint', target: 'block:block_rq_issue', auto: true });
  expect(parseSection('tracepoint')).toEqual({ kind: 'tracepoint', auto: false });
  expect(parseSection('tracepoint/sched')).toEqual({ kind: 'tracepoint', auto: false });
  expect(parseSection('raw_tp/sched_switch')).toEqual({ kind: 'raw_tracepoint', target: 'sched_switch', auto: true });
  expect(parseSection('uprobe//usr/bin/bash:readline')).toEqual({ kind: 'uprobe', target: '/usr/bin/bash:readline', auto: true });
  expect(parseSection('uretprobe.s/libc.so.6:malloc')).toEqual({ kind: 'uretprobe', target: 'libc.so.6:malloc', auto: true });
  expect(parseSection('uprobe')).toEqual({ kind: 'uprobe', auto: false });
  expect(parseSection('fentry/vfs_read')).toEqual({ kind: 'btf', target: 'vfs_read', auto: true });
  expect(parseSection('xdp')).toEqual({ kind: 'other', auto: false });
});

test('programs: the functions of code sections other than .text', () => {
  expect(file.name).toBe('counter');
  expect(file.programs).toEqual([
    { name: 'on_getppid', section: 'tracepoint/syscalls/sys_enter_getppid', attach: { kind: 'tracepoint', target: 'syscalls:sys_enter_getppid', auto: true } },
    { name: 'tagged', section: 'tracepoint', attach: { kind: 'tracepoint', auto: false } },
  ]);
});

test('maps are what libbpf makes of the same object', () => {
  const handle = new (native().BpfObject)(file.image, file.name);
  try {
    for (const m of file.maps) {
      const info = handle.mapInfo(m.name);
      expect([m.name, m.kind, m.keySize, m.valueSize, m.flags & ~0x480]).toEqual([m.name, MAP_TYPES[info.type], info.keySize, info.valueSize, info.flags & ~0x480]);
      // libbpf sizes a perf event array to the CPUs when it loads; internal maps hold one value.
      if (m.kind !== 'perf_event_array') expect([m.name, m.maxEntries]).toEqual([m.name, info.maxEntries]);
    }
  } finally {
    handle.close();
  }
  expect(file.maps.map((m) => [m.name, m.kind, m.internal]).sort()).toEqual([
    ['.bss', 'array', true],
    ['.data', 'array', true],
    ['.rodata', 'array', true],
    ['counts', 'hash', false],
    ['events', 'ringbuf', false],
    ['last', 'lru_hash', false],
    ['per_cpu', 'percpu_array', false],
    ['perf_events', 'perf_event_array', false],
    ['slots', 'array', false],
  ]);
  const counts = file.map('counts')!;
  expect(file.btf.typeToString(counts.keyType!)).toBe('struct key');
  expect(file.btf.typeToString(counts.valueType!)).toBe('__u64');
});

test("variables sit where libbpf puts their initial values", () => {
  const src = compileBpf('vars', String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
const volatile __u8 small = 0x11;
const volatile __u64 big = 0x2233445566778899ULL;
const volatile char word[5] = "abcd";
__u32 counter = 0x12345678;
__u16 other = 0xbeef;
__u64 zeroed;
`, { dir });
  const vars = ObjectFile.read(src);
  const handle = new (native().BpfObject)(vars.image, vars.name);
  try {
    const values = Object.fromEntries(
      vars.variables.map((v) => [v.name, codecFor(vars.btf, v.type).decode(handle.initialValue(v.section)!, v.offset)]),
    );
    expect(values).toEqual({ small: 0x11, big: 0x2233445566778899n, word: 'abcd', counter: 0x12345678, other: 0xbeef, zeroed: 0n });
    expect(Object.fromEntries(vars.variables.map((v) => [v.name, [v.section, v.readonly]]))).toEqual({
      small: ['.rodata', true], big: ['.rodata', true], word: ['.rodata', true],
      counter: ['.data', false], other: ['.data', false], zeroed: ['.bss', false],
    });
  } finally {
    handle.close();
  }
});

test('record types by C name, and every name there is', () => {
  expect(file.btf.typeToString(file.findType('struct event')!)).toBe('struct event');
  expect(file.findType('enum kind')).toBeDefined();
  expect(file.findType('__u64')).toBeDefined();
  expect(file.findType('struct nothing')).toBeUndefined();
  expect(file.typeNames()).toEqual(expect.arrayContaining(['struct key', 'struct event', 'enum kind', '__u64']));
});

test('the declarations kprobe-node types writes', () => {
  const text = objectTypes(file, { command: 'kprobe-node types counter.bpf.o' });
  expect(text).toContain('// Regenerate with: kprobe-node types counter.bpf.o\n');
  expect(text).toContain('export type struct_key = {\n  comm: string;\n  pid: number;\n};');
  expect(text).toContain('export type enum_kind = "KIND_GETPPID" | "KIND_TAGGED" | number;');
  expect(text).toContain('  kind: enum_kind;\n');
  expect(text).toContain('export interface CounterSpec {');
  expect(text).toContain("    counts: { kind: 'hash'; key: struct_key; value: bigint };");
  expect(text).toContain("    per_cpu: { kind: 'percpu_array'; key: number; value: bigint };");
  expect(text).toContain("    events: { kind: 'ringbuf'; key: never; value: never };");
  expect(text).toContain("  programs: 'on_getppid' | 'tagged';");
  expect(text).toContain('  rodata: {\n    target_comm: string;\n    target_tgid: number;\n  };');
  expect(text).toContain("    'struct event': struct_event;");
  expect(pascal('tcp_retrans')).toBe('TcpRetrans');
  expect(pascal('9lives')).toBe('_9lives');
});

test('what is not a BPF object says so', () => {
  expect(() => ObjectFile.parse(Buffer.from('hello'), 'x')).toThrow('x is not an ELF file (5 bytes)');
  // The same C compiled for this machine instead of for BPF:
  fs.writeFileSync(path.join(dir, 'host.c'), 'int x = 1;\n');
  execFileSync('gcc', ['-c', '-o', path.join(dir, 'host.o'), path.join(dir, 'host.c')]);
  expect(() => ObjectFile.read(path.join(dir, 'host.o'))).toThrow(/^host is not a BPF object \(ELF machine \d+\): compile it with clang -target bpf$/);
});
