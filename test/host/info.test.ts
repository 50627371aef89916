/**
 * `kprobe-node info` and describe(): a kernel function's prototype from BTF,
 * a tracepoint's fields, a syscall's arguments. Checked against the README's
 * own block, against bpftool's reading of the kernel's BTF, and against the
 * tracepoints' format files read directly.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, describe as describeTarget } from '../../lib';
import { errorOf } from '../helpers/events';
import { describeHost, repoRoot } from '../helpers/host';
import { runCli } from '../helpers/proc';
import { readmeExample } from '../helpers/readme';
import { BpftoolDump, RawType } from '../helpers/bpftool-dump';

/** bpftool's reading of the running kernel's BTF. */
const kernelDump = () => BpftoolDump.of('/sys/kernel/btf/vmlinux');

jest.setTimeout(60000);

/** A BTF type as C names it, from bpftool's raw dump (independent of lib/btf). */
function cName(id: number): string {
  if (id === 0) return 'void';
  const t = kernelDump().types.get(id) as RawType;
  const next = () => cName(Number(t.attrs.type_id));
  switch (t.kind) {
    case 'PTR': {
      const inner = next();
      return inner.endsWith('*') ? `${inner}*` : `${inner} *`;
    }
    case 'CONST':
      return `const ${next()}`;
    case 'VOLATILE':
      return `volatile ${next()}`;
    case 'STRUCT':
      return `struct ${t.name}`;
    case 'UNION':
      return `union ${t.name}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${t.name}`;
    default:
      return t.name;
  }
}

/** A kernel function's parameters and return type, as bpftool reads them. */
function btfPrototype(fn: string): { params: Array<{ name: string; type: string }>; returns: string } {
  const [func] = kernelDump().idsNamed('FUNC', fn);
  if (func === undefined) throw new Error(`bpftool finds no FUNC ${fn}`);
  const proto = kernelDump().types.get(Number(kernelDump().types.get(func)!.attrs.type_id)) as RawType;
  return {
    params: proto.items.map((i) => ({ name: i.name, type: cName(Number(i.attrs.type_id)) })),
    returns: cName(Number(proto.attrs.ret_type_id)),
  };
}

/** A tracepoint's own fields (not the common_ ones) from its format file: [type, name]. */
function formatFields(category: string, name: string): Array<[string, string]> {
  const text = fs.readFileSync(`/sys/kernel/tracing/events/${category}/${name}/format`, 'utf8');
  const out: Array<[string, string]> = [];
  for (const m of text.matchAll(/field:([^;]*?)\s*\b(\w+)(\[\d*\])?;/g)) {
    if (!m[2].startsWith('common_')) out.push([`${m[1]}${m[3] ?? ''}`, m[2]]);
  }
  return out;
}

describeHost('kprobe-node info and describe()', { root: true, tracefs: true, tools: ['bpftool'] }, () => {
  test('kprobe-node info vfs_fsync_range prints what the README shows', async () => {
    const example = readmeExample('info vfs_fsync_range');
    expect(example.args).toEqual(['info', 'vfs_fsync_range']);
    const r = await runCli(example.args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${example.output.join('\n')}\n`);
  });

  test.each(['vfs_fsync_range', 'vfs_read', 'do_sys_openat2', 'tcp_sendmsg'])("describe('%s') agrees with bpftool's reading of the BTF", (fn) => {
    const d = describeTarget(fn);
    const btf = btfPrototype(fn);
    expect(d).toMatchObject({ kind: 'function', name: fn, btf: true, returns: btf.returns });
    expect(d.params.map(({ name, type }) => ({ name, type }))).toEqual(btf.params);
    // A char * that is not const is a buffer the function fills: noted, and only it.
    for (const p of d.params) expect([p.name, p.note !== undefined]).toEqual([p.name, p.type === 'char *']);
    expect(d.module).toBeUndefined();
    expect(d.prototype).toBe(`${btf.returns}${btf.returns.endsWith('*') ? '' : ' '}${fn}(${btf.params.map((p) => `${p.type}${p.type.endsWith('*') ? '' : ' '}${p.name}`).join(', ')})`);
  });

  test.each([
    ['tracepoint:sched:sched_process_exec', 'sched', 'sched_process_exec'],
    ['sched:sched_process_fork', 'sched', 'sched_process_fork'],
    ['tracepoint:task:task_rename', 'task', 'task_rename'],
  ])("describe('%s') lists the format file's fields with their types", (target, category, name) => {
    const d = describeTarget(target);
    expect(d).toMatchObject({ kind: 'tracepoint', name: `${category}:${name}` });
    expect(d.params.map((p) => [p.type, p.name])).toEqual(formatFields(category, name));
    expect(d.prototype.startsWith(`${category}:${name}(`)).toBe(true);
  });

  test("describe('syscall:openat'): the sys_enter fields, the kernel function and a long return", () => {
    const d = describeTarget('syscall:openat');
    const fields = formatFields('syscalls', 'sys_enter_openat').filter(([, n]) => n !== '__syscall_nr');
    expect(d).toMatchObject({ kind: 'syscall', name: 'openat', returns: 'long', function: process.arch === 'x64' ? '__x64_sys_openat' : expect.any(String) });
    expect(d.params.map((p) => [p.type, p.name])).toEqual(fields);
    expect(d.prototype).toBe(`long openat(${fields.map(([t, n]) => `${t}${t.endsWith('*') ? '' : ' '}${n}`).join(', ')})`);
  });

  test('kprobe-node info of a tracepoint and of a syscall: the prototype, then one line per field; --json is describe()', async () => {
    for (const target of ['tracepoint:sched:sched_process_exec', 'syscall:openat']) {
      const d = describeTarget(target);
      const r = await runCli(['info', target]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const expected = [d.prototype, ...(d.function ? [`  kernel function: ${d.function}`] : []), ...d.params.map((p) => `  ${p.name}: ${p.type}`), ...(d.returns ? [`  returns: ${d.returns}`] : [])];
      expect(r.stdout).toBe(expected.join('\n') + '\n');
      const j = await runCli(['info', target, '--json']);
      expect(j.code).toBe(0);
      expect(JSON.parse(j.stdout)).toEqual(JSON.parse(JSON.stringify(d)));
    }
    // Spelled out once, so that the line layout itself is pinned too.
    const exec = await runCli(['info', 'sched:sched_process_exec']);
    expect(exec.stdout).toBe('sched:sched_process_exec(__data_loc char filename[], pid_t pid, pid_t old_pid)\n  filename: __data_loc char[]\n  pid: pid_t\n  old_pid: pid_t\n');
  });

  test('unknown names: a NotFoundError with suggestions; the CLI exits 1 with one line', async () => {
    const fn = errorOf(() => describeTarget('vfs_fsynk_range'));
    expect(fn).toBeInstanceOf(NotFoundError);
    expect((fn as unknown as NotFoundError).suggestions).toContain('vfs_fsync_range');
    const tp = errorOf(() => describeTarget('sched:sched_process_exex'));
    expect(tp).toBeInstanceOf(NotFoundError);
    expect((tp as unknown as NotFoundError).suggestions[0]).toBe('sched:sched_process_exec');
    const sys = errorOf(() => describeTarget('syscall:opneat'));
    expect(sys).toBeInstanceOf(NotFoundError);
    expect((sys as unknown as NotFoundError).suggestions).toContain('openat');
    for (const target of ['vfs_fsynk_range', 'sched:sched_process_exex', 'syscall:opneat']) {
      const r = await runCli(['info', target]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^kprobe-node: [^\n]+\n$/);
    }
  });
});
