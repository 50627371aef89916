/**
 * Hostile command lines: random and mutated expressions, very long names,
 * unicode and control characters, in every position the CLI takes them. Each
 * run ends by itself (--duration) with exit 0, 1 or 2 and, on failure, one
 * line of reason on stderr: never a stack trace, a signal or a hang. Inputs
 * that must fail (a pin name that is a path, a pid of Infinity) are held to
 * their exit status and reason. (A NUL byte cannot be passed in argv at all:
 * the kernel ends the string there.)
 */
import { describeHost } from '../helpers/host';
import { rng } from '../helpers/rng';
import { runCli } from '../helpers/proc';

jest.setTimeout(120000);

const PIECES = ['fd', '->', '.', '[', ']', '(', ')', ':', '=', '&&', '==', '"', 'struct file *', ':u8', ':bytes[', 'é', '文件', '😀', '\u202e', '\x01', '\x1b[31m', '-', '--', '%s', '$(id)', ' '];

function garbage(r: () => number): string {
  let s = '';
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

const TP = 'syscalls:sys_enter_syncfs';

/**
 * What a case must give: 'ok' (exit 0), 1 (a failure) or 2 (a bad option),
 * each failure with the words its reason must hold; 'any' for random input,
 * where only the shape of the outcome is known.
 */
type Outcome = { code: 'ok' } | { code: 1 | 2; reason: RegExp } | { code: 'any' };

function cases(): Array<[string[], Outcome]> {
  const r = rng(42);
  const out: Array<[string[], Outcome]> = [
    [['x'.repeat(50000)], { code: 1, reason: /no kernel function x+/ }],
    [[`tracepoint:${'a'.repeat(5000)}:${'b'.repeat(5000)}`], { code: 1, reason: /no tracepoint a+:b+/ }],
    [['--syscall', 'é'], { code: 2, reason: /syscall must be a name/ }],
    [['--tracepoint', '文件:😀'], { code: 2, reason: /tracepoint must be a name like category:name/ }],
    [['--tracepoint', TP, '--arg', '('.repeat(10000)], { code: 1, reason: /nested too deeply/ }],
    [['--tracepoint', TP, '--filter', Array.from({ length: 500 }, () => 'fd == 1').join(' && ')], { code: 1, reason: /too many conditions/ }],
    // Two characters: a valid comm, that no task has.
    [['--tracepoint', TP, '--comm', '\u202e\u202e'], { code: 'ok' }],
    [['--tracepoint', TP, '--pid', '1e400'], { code: 2, reason: /pid must be a non-negative integer/ }],
    [['--tracepoint', TP, '--string-size', '-0'], { code: 2, reason: /--string-size must be an integer from 1/ }],
    [['uprobe:', 'uprobe::', 'uprobe:/nonexistent:main'], { code: 2, reason: /a uprobe target is uprobe:/ }],
    [['uprobe:/bin/sh:0xffffffffffffffffffff'], { code: 2, reason: /not in any loaded segment/ }],
    [['info', 'x'.repeat(20000)], { code: 1, reason: /no BTF prototype for x+/ }],
    // A pin name is a name, never a path. (Only paths that lead nowhere: were the check broken,
    // `unpin ..` would empty /sys/fs/bpf, other users' pins included.)
    [['unpin', '../../etc'], { code: 2, reason: /a pin name is/ }],
    [['unpin', 'a/b'], { code: 2, reason: /a pin name is/ }],
    [['attach-pinned', 'é'], { code: 2, reason: /a pin name is/ }],
    [['attach-pinned', '../kprobe-node'], { code: 2, reason: /a pin name is/ }],
    // As many stars as you like still match everything.
    [['list', '*'.repeat(1000)], { code: 'ok' }],
  ];
  for (let i = 0; i < 10; i++) {
    const where = Math.floor(r() * 4);
    if (where === 0) out.push([['--tracepoint', TP, '--arg', garbage(r)], { code: 'any' }]);
    else if (where === 1) out.push([['--tracepoint', TP, '--filter', garbage(r)], { code: 'any' }]);
    else if (where === 2) out.push([[garbage(r)], { code: 'any' }]);
    else out.push([['--syscall', garbage(r), '--arg', garbage(r)], { code: 'any' }]);
  }
  return out;
}

describeHost('CLI fuzz', { root: true, tracefs: true }, () => {
  test.each(cases().map(([c, o]) => [JSON.stringify(c).slice(0, 80), c, o]))('%s', async (_name, args, outcome) => {
    const start = Date.now();
    const r = await runCli([...(args as string[]), '--duration', '0.2'], { timeoutMs: 20000 });
    const want = outcome as Outcome;
    expect(r.signal).toBeNull();
    expect([0, 1, 2]).toContain(r.code);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/TypeError|RangeError|ReferenceError|Maximum call stack/);
    if (want.code === 'ok') expect(r.code).toBe(0);
    else if (want.code !== 'any') expect(r.code).toBe(want.code);
    if (r.code !== 0) {
      // The reason is one line; an expression's error adds the expression and a caret under it.
      const lines = r.stderr.split('\n');
      expect(lines[0]).toMatch(/^kprobe-node: \S/);
      if (want.code !== 'ok' && want.code !== 'any') expect(lines[0]).toMatch(want.reason);
      expect(lines.slice(1).join('\n')).toMatch(/^(|  [^\n]*\n  *\^\n)$/);
      expect(r.stdout).toBe('');
    } else if (args[0] === 'list') {
      expect(r.stdout).toMatch(/^vfs_read$/m);
    } else {
      expect(r.stderr).toMatch(/^kprobe-node: \d+ events, \d+ lost$/m);
    }
    expect(Date.now() - start).toBeLessThan(15000);
  });
});
