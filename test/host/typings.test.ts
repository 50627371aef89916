/**
 * Generated typings at work: `kprobe-node types` writes declarations for a
 * BPF object and for kernel functions, and a strict TypeScript program using
 * them through the package compiles; the same program with a misspelt field,
 * map, program or argument label does not. The compiler is the repo's tsc;
 * the package is this checkout, seen from a project as an installed one.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { compileBpf } from '../helpers/clang';
import { repoRoot } from '../helpers/host';
import { COUNTER_SOURCE, tempDir } from '../helpers/objects';
import { cliPath } from '../helpers/proc';

jest.setTimeout(120_000);

let dir: string;

beforeAll(() => {
  dir = tempDir();
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'kprobe-node'));
  compileBpf('counter', COUNTER_SOURCE, { dir });
  cli(['types', 'counter.bpf.o', '-o', 'counter.d.ts']);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kprobe-node ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** tsc --strict on `files` (in the project); its diagnostics, empty when it compiles. */
function tsc(...files: string[]): string {
  const r = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--noEmit', '--target', 'ES2022', '--module', 'commonjs',
      '--moduleResolution', 'bundler', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), ...files],
    { cwd: dir, encoding: 'utf8' },
  );
  return (r.stdout + r.stderr).trim();
}

const OBJECT_CONSUMER = `
import { openObject } from 'kprobe-node';
import type { CounterSpec, struct_event } from './counter';

const obj = openObject<CounterSpec>('counter.bpf.o', { rodata: { target_comm: 'x', target_tgid: 3 }, maps: { counts: { maxEntries: 64 } } }).load();
const n: bigint | undefined = obj.maps.counts.get({ comm: 'a', pid: 1 });
obj.maps.counts.set({ comm: 'a', pid: 1 }, 5n);
const cpus: bigint[] | undefined = obj.maps.per_cpu.get(0);
const last: struct_event | undefined = obj.maps.last.get(7);
obj.attach('on_getppid');
obj.attach('tagged', { tracepoint: 'syscalls:sys_enter_getppid', cookie: 1n });
const step: number = obj.globals.step;
obj.globals.step = 2;
const ring = obj.ringBuffer('events', 'struct event', { lost: 'dropped' });
ring.on('event', (e) => {
  const comm: string = e.comm;
  const kind: 'KIND_GETPPID' | 'KIND_TAGGED' | number = e.kind;
  const seq: number[] = e.seq;
  const small: number = e.inner.small;
  const ns: bigint = e.ns;
  void [comm, kind, seq, small, ns];
});
const perf = obj.perfBuffer('perf_events', 'struct event');
perf.on('event', (e) => void e.pid);

export function misuses(): void {
  // @ts-expect-error no map 'count'
  obj.maps.count;
  // @ts-expect-error the ring buffer is not a keyed map
  obj.maps.events;
  // @ts-expect-error no program 'on_getpid'
  obj.attach('on_getpid');
  // @ts-expect-error no const volatile 'target_com'
  openObject<CounterSpec>('counter.bpf.o', { rodata: { target_com: 'x' } });
  // @ts-expect-error target_tgid is a number
  openObject<CounterSpec>('counter.bpf.o', { rodata: { target_tgid: 'x' } });
  // @ts-expect-error a key's pid is a number
  obj.maps.counts.get({ comm: 'a', pid: '1' });
  // @ts-expect-error counts holds bigints
  obj.maps.counts.set({ comm: 'a', pid: 1 }, 5);
  // @ts-expect-error no ring buffer 'event'
  obj.ringBuffer('event', 'struct event');
  // @ts-expect-error 'counts' is a hash map, not a ring buffer
  obj.ringBuffer('counts', 'struct event');
  // @ts-expect-error no type 'struct evnt'
  obj.ringBuffer('events', 'struct evnt');
  ring.on('event', (e) => {
    // @ts-expect-error comm is a string
    const c: number = e.comm;
    void c;
  });
  void [n, cpus, last, step];
}
`;

test('a consumer of a generated object spec compiles, and each misuse of it is a type error', () => {
  expect(fs.readFileSync(path.join(dir, 'counter.d.ts'), 'utf8')).toContain('export interface CounterSpec {');
  fs.writeFileSync(path.join(dir, 'object.ts'), OBJECT_CONSUMER);
  expect(tsc('object.ts')).toBe('');
});

test('a misspelt field of a ring buffer record fails to compile, naming it', () => {
  fs.writeFileSync(
    path.join(dir, 'misspelt.ts'),
    `import { openObject } from 'kprobe-node';\nimport type { CounterSpec } from './counter';\n` +
      `openObject<CounterSpec>('counter.bpf.o').load().ringBuffer('events', 'struct event').on('event', (e) => console.log(e.comm, e.comn));\n`,
  );
  expect(tsc('misspelt.ts')).toMatch(/^misspelt\.ts\(3,\d+\): error TS(2339|2551): Property 'comn' does not exist on type 'struct_event'\./);
});

test('kernel function declarations type kprobe events; labels type args written in the call', () => {
  const text = cli(['types', '--kernel', 'vfs_read', 'do_sys_openat2', '-o', 'kernel.d.ts']);
  expect(text).toBe('');
  const decl = fs.readFileSync(path.join(dir, 'kernel.d.ts'), 'utf8');
  expect(decl).toContain("declare module 'kprobe-node' {");
  expect(decl).toContain('vfs_read: {\n      args: { file: bigint; buf: bigint; count: bigint; pos: bigint; };\n      ret: bigint;\n    };');
  fs.writeFileSync(
    path.join(dir, 'kernel-use.ts'),
    `
import { attachKprobe, attachKretprobe, attachSyscall, Probe } from 'kprobe-node';
import './kernel';

const reads = attachKprobe('vfs_read');
reads.on('event', (e) => {
  const count: bigint = e.args.count;
  const buf: bigint = e.args.buf; // a buffer vfs_read fills: a pointer
  // @ts-expect-error no parameter 'cont'
  e.args.cont;
  void [count, buf];
});
const opens = attachKprobe('do_sys_openat2', { args: ['name=filename', 'dfd', 'mode=how->mode:u32'] });
opens.on('event', (e) => {
  const name: unknown = e.args.name;
  const dfd: number = e.args.dfd;
  const mode: number = e.args.mode;
  // @ts-expect-error only the labels asked for
  e.args.filename;
  void [name, dfd, mode];
});
// The function named as a type argument, as in attachKprobe<'vfs_read'>(...): the same types; with args, any labels.
attachKprobe<'vfs_read'>('vfs_read').on('event', (e) => {
  const pos: bigint = e.args.pos;
  void pos;
});
attachKprobe<'vfs_read'>('vfs_read', { args: ['n=count'] }).on('event', (e) => void e.args.n);
const returns = attachKretprobe('vfs_read');
returns.on('event', (e) => {
  const ret: bigint | undefined = e.ret;
  void ret;
});
// Without declarations, any name: args is a record of unknowns, as before.
const other: Probe = attachKprobe('vfs_write');
other.on('event', (e) => void e.args.whatever);
const sys = attachSyscall('openat', { args: ['filename', 'f=flags:x32'] });
sys.on('event', (e) => {
  const f: number = e.args.f;
  // @ts-expect-error only the labels asked for
  e.args.flags;
  void f;
});
`,
  );
  expect(tsc('kernel-use.ts')).toBe('');
});
