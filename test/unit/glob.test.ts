/**
 * Wildcards over kernel names, the kallsyms parser and the module finder:
 * pure functions over text, no root needed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OptionError } from '../../lib/errors';
import { globMatcher, globToRegExp, isGlob } from '../../lib/sys/glob';
import { moduleHolding, parseKallsyms } from '../../lib/sys/kallsyms';

describe('glob', () => {
  test('isGlob sees *, ? and [', () => {
    expect(['fuse_*', 'vfs_?ead', 'sched_[sw]*'].map(isGlob)).toEqual([true, true, true]);
    expect(['vfs_read', 'foo.isra.0', 'sched:sched_switch'].map(isGlob)).toEqual([false, false, false]);
  });

  test('* ? and [] match whole names', () => {
    const names = ['fuse_open_common', 'fuse_fsync', 'cuse_open', 'vfs_fsync', 'vfs_fsync_range', 'vfs_read', 'vfs_write', 'do_fsync'];
    const pick = (p: string) => names.filter(globMatcher(p));
    expect(pick('fuse_*')).toEqual(['fuse_open_common', 'fuse_fsync']);
    expect(pick('*fsync*')).toEqual(['fuse_fsync', 'vfs_fsync', 'vfs_fsync_range', 'do_fsync']);
    expect(pick('vfs_fsync*')).toEqual(['vfs_fsync', 'vfs_fsync_range']);
    expect(pick('vfs_?ead')).toEqual(['vfs_read']);
    expect(pick('vfs_[rw]*')).toEqual(['vfs_read', 'vfs_write']);
    expect(pick('vfs_[!r]*')).toEqual(['vfs_fsync', 'vfs_fsync_range', 'vfs_write']);
    expect(pick('vfs_read')).toEqual(['vfs_read']);
  });

  test('dots and other regex characters are literal', () => {
    expect(globMatcher('foo.isra.*')('foo.isra.0')).toBe(true);
    expect(globMatcher('foo.isra.*')('fooXisraX0')).toBe(false);
    expect(globToRegExp('a+b*').test('a+bc')).toBe(true);
    expect(globMatcher('tcp:*')('tcp:tcp_probe')).toBe(true);
  });

  test('an unclosed [ is an OptionError', () => {
    expect(() => globToRegExp('vfs_[rw')).toThrow(OptionError);
  });
});

describe('parseKallsyms', () => {
  const text = [
    'ffffffff81000000 T _stext',
    'ffffffff81001000 t __pfx_vfs_read',
    'ffffffff81001010 T vfs_read',
    'ffffffff81002000 D some_data',
    'ffffffff81003000 t do_thing.isra.0',
    'ffffffff81004000 W weak_fn',
    'ffffffff81005000 t dup_name',
    'ffffffffc0001000 t fuse_open_common\t[fuse]',
    'ffffffffc0002000 t dup_name\t[fuse]',
    'ffffffffc0003000 t bpf_prog_1234_kn_kprobe\t[bpf]',
    'ffffffffc0004000 t ftrace_trampoline\t[__builtin__ftrace]',
    '',
  ].join('\n');

  test('text symbols with their module; data, padding and bpf programs left out', () => {
    const m = parseKallsyms(text);
    expect([...m.keys()].sort()).toEqual(['_stext', 'do_thing.isra.0', 'dup_name', 'fuse_open_common', 'vfs_read', 'weak_fn']);
    expect(m.get('fuse_open_common')).toBe('fuse');
    expect(m.get('vfs_read')).toBe('');
    // The first of two same-named functions, as a kprobe by name gets.
    expect(m.get('dup_name')).toBe('');
  });

  test('parses 100k lines quickly (no per-line regex or split)', () => {
    const big = Array.from({ length: 100_000 }, (_, i) => `ffffffff8${String(i).padStart(7, '0')} t fn_${i}${i % 7 ? '' : '\t[mod]'}`).join('\n');
    const t = process.hrtime.bigint();
    const m = parseKallsyms(big);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    expect(m.size).toBe(100_000);
    expect(m.get('fn_7')).toBe('mod');
    expect(ms).toBeLessThan(1000);
  });
});

describe('moduleHolding', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-mods-'));
    fs.writeFileSync(path.join(dir, 'modules.symbols'), '# Aliases\nalias symbol:fuse_dev_operations fuse\nalias symbol:nf_ct_get_tuple nf_conntrack\n');
    fs.writeFileSync(
      path.join(dir, 'modules.dep'),
      ['kernel/fs/fuse/fuse.ko.xz:', 'kernel/fs/fuse/cuse.ko.xz: kernel/fs/fuse/fuse.ko.xz', 'kernel/net/netfilter/nf_conntrack.ko.xz:', 'kernel/net/netfilter/nf_conntrack_ftp.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz'].join('\n'),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an exported function: its module, for certain (modules.symbols)', () => {
    expect(moduleHolding('fuse_dev_operations', dir)).toEqual({ module: 'fuse', certain: true });
  });

  test('otherwise the module named by the longest prefix, a guess when its symbols cannot be read', () => {
    expect(moduleHolding('fuse_open_common', dir)).toEqual({ module: 'fuse', certain: false });
    expect(moduleHolding('nf_conntrack_ftp_help', dir)).toEqual({ module: 'nf_conntrack_ftp', certain: false });
    expect(moduleHolding('vfs_read', dir)).toBeUndefined();
  });

  test('no modules directory: no hint', () => {
    expect(moduleHolding('fuse_open_common', path.join(dir, 'missing'))).toBeUndefined();
  });
});
