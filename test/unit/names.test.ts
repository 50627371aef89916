/** "Did you mean": successors of renamed or split functions before mere spelling neighbours (lib/sys/names.ts). */
import { closest, nameWords } from '../../lib/sys/names';

// What Debian 13's 6.12 kernel has around fuse_open_common, which it split up.
const FUSE = [
  'fuse_dir_open', 'fuse_do_open', 'fuse_file_open', 'fuse_fsync_common', 'fuse_init_common', 'fuse_ioctl_common',
  'fuse_open', 'fuse_open_out', 'fuse_release_common', 'fuse_readdir', 'fuse_finish_open', 'fuse_sync_release',
  'cuse_open', 'fuse_dev_open', 'nfs_open',
];

test('words of a name', () => {
  expect(nameWords('fuse_open_common')).toEqual(['fuse', 'open', 'common']);
  expect(nameWords('sched:sched_switch')).toEqual(['sched', 'switch']);
  expect(nameWords('__x64_sys_openat')).toEqual(['x64', 'sys', 'openat']);
});

test('fuse_open_common: its successors (fuse + open) come before fuse_*_common names', () => {
  const got = closest('fuse_open_common', FUSE);
  // Every name sharing fuse and open ranks above every one sharing only fuse and common.
  const successors = ['fuse_open', 'fuse_open_out', 'fuse_dir_open', 'fuse_do_open', 'fuse_file_open', 'fuse_finish_open', 'fuse_dev_open'];
  expect(got).toHaveLength(5);
  for (const g of got) expect(successors).toContain(g);
  // The longest shared beginning first.
  expect(got.slice(0, 2).sort()).toEqual(['fuse_open', 'fuse_open_out']);
  expect(closest('fuse_open_common', FUSE, 10)).toEqual(expect.arrayContaining(['fuse_dir_open', 'fuse_do_open']));
  expect(closest('fuse_open_common', FUSE, 10).indexOf('fuse_fsync_common')).toBeGreaterThan(closest('fuse_open_common', FUSE, 10).indexOf('fuse_do_open'));
});

test('typos are still found by edit distance, a swap of two letters counting one', () => {
  expect(closest('vfs_raed', ['vfs_read', 'vfs_readv', 'vfs_rename', 'vfs_write', 'ksys_read'])[0]).toBe('vfs_read');
  expect(closest('opeant', ['openat', 'open', 'openat2', 'close'])[0]).toBe('openat');
  expect(closest('sched:sched_swich', ['sched:sched_switch', 'sched:sched_stat_wait', 'sched:sched_wakeup', 'irq:softirq_entry'])[0]).toBe('sched:sched_switch');
  expect(closest('datsync', ['file', 'start', 'end', 'datasync'])).toEqual(['datasync']);
});

test('nothing alike: nothing suggested', () => {
  expect(closest('completely_different', FUSE)).toEqual([]);
  // Sharing only the first word is not enough.
  expect(closest('fuse_xyzzy_plugh', FUSE)).toEqual([]);
});
