/**
 * lib/abi.ts mirrors bpf/kprobe_node.h by hand. These tests hold it to the
 * header: sizes and offsets against what the C++ compiler computed with
 * sizeof/offsetof when it built the addon, constants and enum values against
 * the header's text, and encodeConfig/RecordDecoder against those offsets.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as abi from '../../lib/sys/abi';
import { RecordDecoder } from '../../lib/core/decode';
import { TraceEvent } from '../../lib/core/event';
import { native } from '../../lib/sys/native';
import { repoRoot } from '../helpers/host';

const N = native().layout;
const { layout } = abi;
const header = fs.readFileSync(path.join(repoRoot, 'bpf', 'kprobe_node.h'), 'utf8');

/** `#define KN_X value` and `KN_X = value,` from the header. */
function headerValues(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(/^#define\s+(KN_[A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+)u?\b/gm)) out.set(m[1], Number(m[2]));
  for (const m of header.matchAll(/^\s*(KN_[A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,/gm)) out.set(m[1], Number(m[2]));
  return out;
}
const H = headerValues();

describe('struct layouts agree with the header (as compiled into the addon)', () => {
  const structs = Object.keys(N).filter((k) => k !== 'constants');

  test('the addon reports the structs, and abi.ts mirrors exactly those', () => {
    expect(structs).toEqual(expect.arrayContaining(['step', 'arg', 'filter', 'config', 'record']));
    expect(Object.keys(layout).sort()).toEqual([...structs].sort());
  });

  for (const s of structs) {
    test(`kn_${s}: same members, sizes and offsets`, () => {
      // toEqual names the member that differs.
      expect({ ...(layout as Record<string, object>)[s] }).toEqual({ ...N[s as keyof typeof N] });
    });
  }

  test('records are 8-byte multiples (payload entries are 8-byte aligned)', () => {
    expect(N.record.size % 8).toBe(0);
  });
});

describe('constants agree', () => {
  test('the sizes the addon reports', () => {
    const ts = abi as unknown as Record<string, unknown>;
    expect(Object.keys(N.constants)).toEqual(expect.arrayContaining(['COMM_LEN', 'MAX_ARGS', 'MAX_STEPS', 'MAX_FILTERS', 'MAX_STR', 'DATA_SIZE']));
    for (const [k, v] of Object.entries(N.constants)) expect([k, ts[k]]).toEqual([k, v]);
  });

  test('every #define KN_X of the header is exported as X with the same value', () => {
    const ts = abi as unknown as Record<string, unknown>;
    const defines = [...header.matchAll(/^#define\s+KN_([A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+)u?\b/gm)];
    expect(defines.length).toBeGreaterThanOrEqual(15);
    const want = Object.fromEntries(defines.map((m) => [m[1], Number(m[2])]));
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, ts[k]]));
    expect(got).toEqual(want);
  });

  test('the header was parsed (guards the tests below against a vacuous pass)', () => {
    expect(H.size).toBeGreaterThanOrEqual(35);
  });

  const enums: Array<[string, Record<string, string | number>, string]> = [
    ['Source', abi.Source, 'KN_SRC_'],
    ['Store', abi.Store, 'KN_STORE_'],
    ['FilterOp', abi.FilterOp, 'KN_OP_'],
    ['CountBy', abi.CountBy, 'KN_BY_'],
    ['BucketMode', abi.BucketMode, 'KN_BUCKETS_'],
  ];
  // Member names compared without underscores: KN_OP_STREQ is FilterOp.StrEq.
  const key = (s: string) => s.replace(/_/g, '').toUpperCase();
  test('every enum of the header is mirrored', () => {
    const prefixes: Record<string, string> = { kn_source: 'KN_SRC_', kn_store: 'KN_STORE_', kn_filter_op: 'KN_OP_', kn_count_by: 'KN_BY_', kn_bucket_mode: 'KN_BUCKETS_' };
    const inHeader = [...header.matchAll(/^enum\s+(kn_\w+)\s*\{/gm)].map((m) => m[1]);
    expect(inHeader.map((e) => prefixes[e] ?? `unmapped ${e}`).sort()).toEqual(enums.map((e) => e[2]).sort());
  });

  for (const [name, e, prefix] of enums) {
    test(`enum ${name} has exactly the header's ${prefix}* values`, () => {
      const ts = Object.fromEntries(Object.entries(e).filter(([, v]) => typeof v === 'number').map(([k, v]) => [key(k), v]));
      const c = Object.fromEntries([...H].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [key(k.slice(prefix.length)), v]));
      expect(ts).toEqual(c);
    });
  }
});

describe('encodeConfig writes each field where the header puts it', () => {
  const C = N.config;
  const A = N.arg;
  const F = N.filter;
  const S = N.step;

  const cfg: abi.ProbeConfig = {
    pid: 0x11223344,
    tid: 0x55667788,
    uid: 0x0a0b0c0d,
    comm: 'kn_workload',
    args: [
      { source: abi.Source.Reg, reg: 5, steps: [], store: abi.Store.Value, size: 8 },
      { source: abi.Source.Ret, steps: [], store: abi.Store.Mem, size: 4, signed: true, offset: -24 },
      {
        source: abi.Source.Ctx,
        steps: [
          { offset: 16, user: false },
          { offset: -8, user: true },
          { offset: 0x1234, user: false },
        ],
        store: abi.Store.StrUser,
        size: 256,
        hidden: true,
        offset: 0x40,
        bitOffset: 3,
        bitSize: 5,
      },
    ],
    filters: [
      { arg: 1, op: abi.FilterOp.SGe, operand: -5n },
      { arg: 2, op: abi.FilterOp.StrEq, str: '/etc/passwd' },
    ],
  };
  const b = abi.encodeConfig(cfg);

  test('size is sizeof(struct kn_config) (the addon refuses anything else)', () => {
    expect(b.length).toBe(C.size);
  });

  test('header fields', () => {
    expect(b.readUInt32LE(C.flags)).toBe((0x80000000 | 0x01 | 0x02 | 0x04 | 0x08) >>> 0);
    expect(b.readUInt32LE(C.pid)).toBe(0x11223344);
    expect(b.readUInt32LE(C.tid)).toBe(0x55667788);
    expect(b.readUInt32LE(C.uid)).toBe(0x0a0b0c0d);
    expect(b.toString('latin1', C.comm, C.comm + 16)).toBe('kn_workload\0\0\0\0\0');
    expect(b[C.nargs]).toBe(3);
    expect(b[C.nfilters]).toBe(2);
  });

  test('filters', () => {
    const f0 = C.filters;
    const f1 = C.filters + F.size;
    expect([b[f0 + F.arg], b[f0 + F.op]]).toEqual([1, abi.FilterOp.SGe]);
    expect(b.readBigInt64LE(f0 + F.operand)).toBe(-5n);
    expect([b[f1 + F.arg], b[f1 + F.op]]).toEqual([2, abi.FilterOp.StrEq]);
    expect(b.toString('latin1', f1 + F.str, f1 + F.str + 12)).toBe('/etc/passwd\0');
  });

  test('arguments and their steps', () => {
    const a0 = C.args;
    const a1 = C.args + A.size;
    const a2 = C.args + 2 * A.size;
    expect([b[a0 + A.source], b[a0 + A.reg], b[a0 + A.nsteps], b[a0 + A.store], b.readUInt16LE(a0 + A.size_)]).toEqual([
      abi.Source.Reg, 5, 0, abi.Store.Value, 8,
    ]);
    expect([b[a1 + A.source], b[a1 + A.store], b.readUInt16LE(a1 + A.size_), b[a1 + A.flags]]).toEqual([
      abi.Source.Ret, abi.Store.Mem, 4, abi.ARG_SIGNED,
    ]);
    expect(b.readInt32LE(a1 + A.offset)).toBe(-24);
    expect([b[a2 + A.source], b[a2 + A.nsteps], b[a2 + A.store], b.readUInt16LE(a2 + A.size_)]).toEqual([
      abi.Source.Ctx, 3, abi.Store.StrUser, 256,
    ]);
    expect(b[a2 + A.flags]).toBe(abi.ARG_HIDDEN);
    expect(b.readInt32LE(a2 + A.offset)).toBe(0x40);
    expect([b[a2 + A.bit_offset], b[a2 + A.bit_size]]).toEqual([3, 5]);
    const step = (j: number) => a2 + A.steps + j * S.size;
    expect([b.readInt32LE(step(0) + S.offset), b[step(0) + S.user]]).toEqual([16, 0]);
    expect([b.readInt32LE(step(1) + S.offset), b[step(1) + S.user]]).toEqual([-8, 1]);
    expect([b.readInt32LE(step(2) + S.offset), b[step(2) + S.user]]).toEqual([0x1234, 0]);
    // Unused argument slots stay zero.
    expect(b.subarray(C.args + 3 * A.size).every((x) => x === 0)).toBe(true);
  });

  test('no filter flags without filters; comm is cut to 15 characters plus NUL', () => {
    const e = abi.encodeConfig({ comm: 'a-very-long-command-name', args: [] });
    expect(e.readUInt32LE(C.flags)).toBe((0x80000000 | 0x08) >>> 0);
    expect(e.toString('latin1', C.comm, C.comm + 16)).toBe('a-very-long-com\0');
    expect(e.readUInt32LE(C.pid)).toBe(0);
  });

  test('where the return address is at entry (KN_CFG_KCALLER/UCALLER): caller_reg and caller_deref', () => {
    const e = abi.encodeConfig({ args: [], flags: abi.CFG_UCALLER, callerReg: 152, callerDeref: true });
    expect(e.readUInt32LE(C.flags) & abi.CFG_UCALLER).toBe(abi.CFG_UCALLER);
    expect(e.readUInt16LE(C.caller_reg)).toBe(152);
    expect(e[C.caller_deref]).toBe(1);
    expect(abi.encodeConfig({ args: [] })[C.caller_deref]).toBe(0);
  });

  test('the generation of a slot, and cookies: the generation above the id', () => {
    expect(abi.encodeConfig({ args: [], gen: 7 })[C.gen]).toBe(7);
    expect(abi.cookieOf(5, 0)).toBe(5);
    expect(abi.cookieOf(5, 3)).toBe((3 << N.constants.COOKIE_GEN_SHIFT) | 5);
    expect(abi.cookieOf(1023, 255)).toBe(((255 << N.constants.COOKIE_GEN_SHIFT) | 1023) >>> 0);
  });

  test('histogram buckets (struct kn_buckets at the end)', () => {
    const B = N.buckets;
    const e = abi.encodeConfig({ args: [], buckets: { mode: abi.BucketMode.Linear, min: -5n, step: 200n, count: 10, signed: true } });
    expect(C.buckets + B.size).toBe(C.size);
    expect(e.readBigInt64LE(C.buckets + B.min)).toBe(-5n);
    expect(e.readBigUInt64LE(C.buckets + B.step)).toBe(200n);
    expect(e.readUInt32LE(C.buckets + B.count)).toBe(10);
    expect([e[C.buckets + B.mode], e[C.buckets + B.bits], e[C.buckets + B.is_signed]]).toEqual([abi.BucketMode.Linear, 0, 1]);
    const l = abi.encodeConfig({ args: [], buckets: { mode: abi.BucketMode.LogLinear, bits: 4 } });
    expect([l[C.buckets + B.mode], l[C.buckets + B.bits], l[C.buckets + B.is_signed]]).toEqual([abi.BucketMode.LogLinear, 4, 0]);
    // Without buckets, plain counts: mode 0.
    expect(b.subarray(C.buckets, C.size).every((x) => x === 0)).toBe(true);
  });

  test('a PID namespace and a cgroup set their flags; the namespace inode goes in pidns', () => {
    const e = abi.encodeConfig({ pidns: { ino: 0xeffffff0, dev: 4 }, cgroup: '/sys/fs/cgroup/unified/x', args: [] });
    expect(e.readUInt32LE(C.flags)).toBe((0x80000000 | abi.CFG_PIDNS | abi.CFG_CGROUP) >>> 0);
    expect([e.readUInt32LE(C.pidns), e.readUInt32LE(C.pidns_dev)]).toEqual([0xeffffff0, 4]);
    expect(abi.encodeConfig({ args: [] }).readUInt32LE(C.flags)).toBe(0x80000000);
  });

  test('limits are the header limits', () => {
    const arg: abi.FetchArg = { source: abi.Source.Reg, steps: [], store: abi.Store.Value, size: 8 };
    expect(() => abi.encodeConfig({ args: Array(N.constants.MAX_ARGS + 1).fill(arg) })).toThrow(RangeError);
    expect(() => abi.encodeConfig({ args: Array(N.constants.MAX_ARGS).fill(arg) })).not.toThrow();
    const deep = { ...arg, steps: Array(N.constants.MAX_STEPS + 1).fill({ offset: 0, user: false }) };
    expect(() => abi.encodeConfig({ args: [deep] })).toThrow(RangeError);
    const filter: abi.FetchFilter = { arg: 0, op: abi.FilterOp.Eq };
    expect(() => abi.encodeConfig({ args: [], filters: Array(N.constants.MAX_FILTERS + 1).fill(filter) })).toThrow(RangeError);
  });
});

describe('RecordDecoder reads a struct kn_record where the header puts it', () => {
  const R = N.record;

  test('header fields and payload entries', () => {
    const payload = 8 + 8 + ((4 + 5 + 7) & ~7);
    const buf = Buffer.alloc(R.size + payload);
    buf.writeUInt32LE(buf.length, R.size_);
    buf.writeUInt32LE(7, R.probe_id);
    buf.writeBigUInt64LE(123456789012345n, R.ns);
    buf.writeUInt32LE(4242, R.pid);
    buf.writeUInt32LE(4243, R.tid);
    buf.writeUInt32LE(1000, R.uid);
    buf.writeUInt16LE(3, R.cpu);
    buf.writeUInt16LE(0b010, R.faults);
    buf.write('kn_workload', R.comm, 'latin1');
    buf.writeUInt32LE(91242, R.host_pid);
    buf.writeUInt32LE(91243, R.host_tid);
    buf.writeBigUInt64LE(0x1_0000_0007n, R.cgroup_id);
    let p = R.size;
    buf.writeBigInt64LE(-2n, p);
    p += 8;
    buf.writeBigUInt64LE(0n, p); // faulted
    p += 8;
    buf.writeUInt32LE(5, p);
    buf.write('hello', p + 4);
    const mem = (size: number) => ({ source: abi.Source.Ctx, steps: [], store: abi.Store.Mem, size });
    const dec = new RecordDecoder('test:probe', [
      { name: 'ret', type: 'long', fetch: mem(8), kind: 'i64', isReturn: true },
      { name: 'ptr', type: 'void *', fetch: mem(8), kind: 'u64' },
      { name: 'name', type: 'char *', fetch: { source: abi.Source.Ctx, steps: [], store: abi.Store.Str, size: 64 }, kind: 'string' },
    ]);
    // As the ring delivers it: an 8-byte ring header (the record's length), then the record.
    const ring = Buffer.concat([Buffer.alloc(8), buf]);
    ring.writeUInt32LE(buf.length, 0);
    const ev = new TraceEvent(ring, 8, dec);
    expect(ev).toMatchObject({ probe: 'test:probe', ns: 123456789012345n, pid: 4242, tid: 4243, uid: 1000, cpu: 3, comm: 'kn_workload' });
    expect([ev.hostPid, ev.hostTid, ev.cgroupId]).toEqual([91242, 91243, 0x1_0000_0007]);
    expect(ev.ret).toBe(-2n);
    expect(ev.args).toEqual({ ptr: null, name: 'hello' });
    expect(ev.faults).toEqual(['ptr']);
  });
});

describe('RecordDecoder reads stack entries as append_stack writes them', () => {
  const R = N.record;
  const frame = abi.BUILD_ID_FRAME;

  test('a kernel stack, then a user stack with the caller recovered at entry and a build id per frame', () => {
    const kernel = [0xffffffff81000010n, 0xffffffff81000020n];
    const user = [0x55550000_1139n, 0x55550000_1150n, 0x7f0000_2724an];
    const userBytes = 4 + user.length * (8 + frame);
    const kernelBytes = 4 + kernel.length * 8;
    const size = R.size + ((kernelBytes + 7) & ~7) + ((userBytes + 7) & ~7);
    const buf = Buffer.alloc(8 + size);
    buf.writeUInt32LE(size, 0);
    const rec = 8;
    let p = rec + R.size;
    buf.writeUInt32LE(kernel.length * 8 | abi.STACK_CALLER, p);
    kernel.forEach((a, i) => buf.writeBigUInt64LE(a, p + 4 + i * 8));
    p += (kernelBytes + 7) & ~7;
    buf.writeUInt32LE(user.length * 8 | abi.STACK_CALLER | abi.STACK_BUILD_IDS, p);
    user.forEach((a, i) => buf.writeBigUInt64LE(a, p + 4 + i * 8));
    const ids = p + 4 + user.length * 8;
    // struct bpf_stack_build_id: s32 status (1: build id + offset, 2: address only), 20-byte id, u64 offset or address.
    const id = Buffer.from('1937503a4cb09dfa6645b9bcd2edafbceb1a7037', 'hex');
    buf.writeInt32LE(1, ids);
    id.copy(buf, ids + 4);
    buf.writeBigUInt64LE(0x1139n, ids + 24);
    buf.writeInt32LE(2, ids + frame); // the caller read at entry: an address
    buf.writeBigUInt64LE(user[1], ids + frame + 24);
    buf.writeInt32LE(1, ids + 2 * frame);
    Buffer.from('93ac61ee', 'hex').copy(buf, ids + 2 * frame + 4);
    buf.writeBigUInt64LE(0x2724an, ids + 2 * frame + 24);

    const dec = new RecordDecoder('test:stacks', [], { kernel: true, user: true });
    const ev = new TraceEvent(buf, rec, dec);
    expect(ev.kernelStack).toEqual(kernel);
    expect(ev.userStack).toEqual(user);
    expect(ev.callerAtEntry).toEqual({ kernel: true, user: true });
    expect(ev.userStackFiles).toEqual([
      { buildId: '1937503a4cb09dfa6645b9bcd2edafbceb1a7037', offset: 0x1139 },
      undefined,
      // A 4-byte id (zero padded to 20) keeps at least 16 bytes: ids are 16 (md5) or 20 (sha1) bytes long.
      { buildId: '93ac61ee000000000000000000000000', offset: 0x2724a },
    ]);
  });

  test('a user stack without build ids (the walk failed): addresses only', () => {
    const size = R.size + 16;
    const buf = Buffer.alloc(8 + size);
    buf.writeUInt32LE(size, 0);
    buf.writeUInt32LE(8, 8 + R.size);
    buf.writeBigUInt64LE(0x401000n, 8 + R.size + 4);
    const ev = new TraceEvent(buf, 8, new RecordDecoder('t', [], { kernel: false, user: true }));
    expect(ev.userStack).toEqual([0x401000n]);
    expect(ev.userStackFiles).toBeUndefined();
    expect(ev.callerAtEntry).toBeUndefined();
  });
});
