/** parseTarget: how a positional CLI target names what to attach. */
import { formatTarget, parseTarget } from '../../lib/attach/target';
import { TraceArgs, bucketOptionsOf, jsonOutput, probeOptionsOf, takeCountOption, timeFormatOf } from '../../lib/cli/options';
import { programToPreload } from '../../lib/cli/main';
import { kernelFeatures } from '../../lib/sys/features';
import { OptionError } from '../../lib/errors';

describe('parseTarget', () => {
  test.each([
    // text, --ret, expected
    ['vfs_read', false, { kind: 'kprobe', name: 'vfs_read' }],
    ['vfs_read', true, { kind: 'kretprobe', name: 'vfs_read' }],
    ['fuse_open_common.isra.0', false, { kind: 'kprobe', name: 'fuse_open_common.isra.0' }],
    ['kprobe:vfs_read', false, { kind: 'kprobe', name: 'vfs_read' }],
    ['k:vfs_read', false, { kind: 'kprobe', name: 'vfs_read' }],
    ['kprobe:vfs_read', true, { kind: 'kretprobe', name: 'vfs_read' }],
    ['kretprobe:vfs_read', false, { kind: 'kretprobe', name: 'vfs_read' }],
    ['kr:vfs_read', false, { kind: 'kretprobe', name: 'vfs_read' }],
    ['tracepoint:sched:sched_switch', false, { kind: 'tracepoint', name: 'sched:sched_switch' }],
    ['t:syscalls:sys_enter_openat', false, { kind: 'tracepoint', name: 'syscalls:sys_enter_openat' }],
    ['tracepoint:sched:sched_switch', true, { kind: 'tracepoint', name: 'sched:sched_switch' }],
    ['syscall:openat', false, { kind: 'syscall', name: 'openat', ret: false }],
    ['s:openat', true, { kind: 'syscall', name: 'openat', ret: true }],
    // A bare category:name reads as a tracepoint.
    ['sched:sched_switch', false, { kind: 'tracepoint', name: 'sched:sched_switch' }],
    ['syscalls:sys_enter_syncfs', false, { kind: 'tracepoint', name: 'syscalls:sys_enter_syncfs' }],
    // Patterns, as bpftrace writes them.
    ['tracepoint:syscalls:sys_enter_*', false, { kind: 'tracepoint', name: 'syscalls:sys_enter_*' }],
    ['syscall:*open*', true, { kind: 'syscall', name: '*open*', ret: true }],
    ['vfs_*', false, { kind: 'kprobe', name: 'vfs_*' }],
    // CPU sampling.
    ['profile:hz:99', false, { kind: 'profile', unit: 'hz', rate: 99 }],
    ['p:ms:10', false, { kind: 'profile', unit: 'ms', rate: 10 }],
    ['profile:us:500', true, { kind: 'profile', unit: 'us', rate: 500 }],
  ] as const)('%s (ret=%s)', (text, ret, expected) => {
    expect(parseTarget(text, ret)).toEqual(expected);
  });

  test.each(['foo:bar:baz', 'x y:z', 'tracepoints:sched:sched_switch'])('%s is an OptionError naming the prefix', (text) => {
    let err: unknown;
    try {
      parseTarget(text, false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OptionError);
    expect((err as OptionError).code).toBe('EKN_BAD_OPTION');
    expect((err as OptionError).message).toContain(`"${text.slice(0, text.indexOf(':'))}"`);
    expect((err as OptionError).message).toMatch(/kprobe:.*tracepoint:.*syscall:.*uprobe:/);
  });
});

test.each(['profile:hz:0', 'profile:hz', 'profile:kHz:9', 'profile:hz:1.5', 'profile:99'])('%s: a profile target needs a unit and a positive rate', (text) => {
  expect(() => parseTarget(text)).toThrow(/profile:hz:<samples a second>/);
});

test('formatTarget writes profile targets back', () => {
  expect(formatTarget(parseTarget('p:hz:49'))).toBe('profile:hz:49');
});

describe('the trace command\'s own flags, read from yargs\' arguments', () => {
  const args = (over: Partial<TraceArgs>): TraceArgs => ({
    targets: [], ret: false, syscall: [], tracepoint: [], json: false, l: false, verbose: false, exitWithCommand: false,
    includeSelf: false, latency: false, explain: false, arg: [], ...over,
  });

  test('-f json is --json; -f text and --json contradict; -f takes nothing else', () => {
    expect(jsonOutput(args({ format: 'json' }))).toBe(true);
    expect(jsonOutput(args({ json: true }))).toBe(true);
    expect(jsonOutput(args({ format: 'text' }))).toBe(false);
    expect(jsonOutput(args({}))).toBe(false);
    expect(() => jsonOutput(args({ format: 'text', json: true }))).toThrow(/contradict/);
    expect(() => jsonOutput(args({ format: 'count > 4' }))).toThrow(/^-f \(--format\) is the output format, text or json, got "count > 4"; a filter is --filter$/);
  });

  test('--time: s, ms, us, ns, rel, none', () => {
    expect(timeFormatOf(args({}))).toBe('s');
    for (const t of ['ms', 'us', 'ns', 'rel', 'none']) expect(timeFormatOf(args({ time: t }))).toBe(t);
    expect(() => timeFormatOf(args({ time: 'hours' }))).toThrow(/--time takes s, ms, us, ns, none, rel/);
  });

  test('--linear min,max,step: integers, sizes, and for --latency durations (in ns)', () => {
    expect(bucketOptionsOf(args({ linear: '0,2000,200' }))).toEqual({ linear: { min: 0, max: 2000, step: 200 } });
    expect(bucketOptionsOf(args({ linear: '0,4K,512' }))).toEqual({ linear: { min: 0, max: 4096, step: 512 } });
    expect(bucketOptionsOf(args({ linear: '0,10ms,1ms', latency: true }))).toEqual({ linear: { min: 0, max: 10_000_000, step: 1_000_000 } });
    expect(bucketOptionsOf(args({ linear: '1.5us,2us,100ns', latency: true }))).toEqual({ linear: { min: 1500, max: 2000, step: 100 } });
    expect(bucketOptionsOf(args({ logLinear: 3 }))).toEqual({ bits: 3 });
    expect(() => bucketOptionsOf(args({ linear: '0,10ms,1ms' }))).toThrow(/^--linear takes min,max,step \(integers\), got "0,10ms,1ms"$/);
    expect(() => bucketOptionsOf(args({ linear: '0,10' }))).toThrow(/--linear takes min,max,step/);
  });

  test('the CLI leaves itself out unless --include-self, --pid of itself, or --pin', () => {
    expect(probeOptionsOf(args({})).excludeSelf).toBe(true);
    expect(probeOptionsOf(args({ includeSelf: true })).excludeSelf).toBeUndefined();
    expect(probeOptionsOf(args({ pid: process.pid })).excludeSelf).toBeUndefined();
    expect(probeOptionsOf(args({ pin: 'x' })).excludeSelf).toBeUndefined();
  });

  test("bare --count is '' (the default: by comm, by probe for a pattern)", () => {
    expect(takeCountOption(args({ count: true }))).toBe('');
    expect(takeCountOption(args({ count: 'by=pid' }))).toBe('pid');
  });
});

describe('programToPreload: the program the CLI starts loading before it parses its arguments', () => {
  const kprobes = kernelFeatures().kprobes;
  test.each([
    [['--tracepoint', 'syscalls:sys_enter_syncfs', '-c', 'true'], 'kn_tracepoint'],
    [['--tracepoint=sched:sched_switch'], 'kn_tracepoint'],
    [['t:sched:sched_switch', '--json'], 'kn_tracepoint'],
    [['sched:sched_switch'], 'kn_tracepoint'],
    [['vfs_read', '--arg', 'n=arg2:u64'], 'kn_kprobe'],
    [['kretprobe:vfs_read'], 'kn_kprobe'],
    [['uprobe:libc:malloc', '--pid', '1'], 'kn_kprobe'],
    [['--syscall', 'openat'], kprobes ? 'kn_kprobe' : 'kn_tracepoint'],
    [['s:openat', '--count'], kprobes ? 'kn_kprobe' : 'kn_tracepoint'],
    [['profile:hz:99', '--stack', 'kernel'], 'kn_perf_event'],
    [["tracepoint:syscalls:sys_enter_*", '--count'], 'kn_tracepoint'],
  ])('%j -> %s', (args, program) => {
    expect(programToPreload(args)).toBe(program);
  });

  test.each([[['list', 'vfs_*']], [['info', 'vfs_read']], [['--pid', '1', 'pinned']], [['--help']], [['-h']], [['-V']], [['-l', 'vfs_*']], [['vfs_read', '--ring-size', '4096']], [['t:a:b', '--max-counts=10']], [['t:a:b', '--pin', 'x']]])(
    '%j loads nothing early',
    (args) => {
      expect(programToPreload(args)).toBeUndefined();
    },
  );
});
