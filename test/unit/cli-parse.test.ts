/** parseTarget: how a positional CLI target names what to attach. */
import { parseTarget } from '../../lib/attach/target';
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
  ])('%j -> %s', (args, program) => {
    expect(programToPreload(args)).toBe(program);
  });

  test.each([[['list', 'vfs_*']], [['info', 'vfs_read']], [['--pid', '1', 'pinned']], [['--help']], [['vfs_read', '--ring-size', '4096']], [['t:a:b', '--max-counts=10']], [['t:a:b', '--pin', 'x']]])(
    '%j loads nothing early',
    (args) => {
      expect(programToPreload(args)).toBeUndefined();
    },
  );
});
