/**
 * Hostile command lines: random and mutated expressions, very long names,
 * unicode and control characters, in every position the CLI takes them. Each
 * run ends by itself (--duration) with exit 0, 1 or 2 and, on failure, one
 * line of reason on stderr: never a stack trace, a signal or a hang. (A NUL
 * byte cannot be passed in argv at all: the kernel ends the string there.)
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

function cases(): string[][] {
  const r = rng(42);
  const out: string[][] = [
    ['x'.repeat(50000)],
    [`tracepoint:${'a'.repeat(5000)}:${'b'.repeat(5000)}`],
    ['--syscall', 'é'],
    ['--tracepoint', '文件:😀'],
    ['--tracepoint', TP, '--arg', '('.repeat(10000)],
    ['--tracepoint', TP, '--filter', Array.from({ length: 500 }, () => 'fd == 1').join(' && ')],
    ['--tracepoint', TP, '--comm', '\u202e\u202e'],
    ['--tracepoint', TP, '--pid', '1e400'],
    ['--tracepoint', TP, '--string-size', '-0'],
    ['uprobe:', 'uprobe::', 'uprobe:/nonexistent:main'],
    ['uprobe:/bin/sh:0xffffffffffffffffffff'],
    ['info', 'x'.repeat(20000)],
    ['unpin', '../../etc'],
    ['attach-pinned', 'é'],
    ['list', '*'.repeat(1000)],
  ];
  for (let i = 0; i < 10; i++) {
    const where = Math.floor(r() * 4);
    if (where === 0) out.push(['--tracepoint', TP, '--arg', garbage(r)]);
    else if (where === 1) out.push(['--tracepoint', TP, '--filter', garbage(r)]);
    else if (where === 2) out.push([garbage(r)]);
    else out.push(['--syscall', garbage(r), '--arg', garbage(r)]);
  }
  return out;
}

describeHost('CLI fuzz', { root: true, tracefs: true }, () => {
  test.each(cases().map((c) => [JSON.stringify(c).slice(0, 80), c]))('%s', async (_name, args) => {
    const start = Date.now();
    const r = await runCli([...(args as string[]), '--duration', '0.2'], { timeoutMs: 20000 });
    expect(r.signal).toBeNull();
    expect([0, 1, 2]).toContain(r.code);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/TypeError|RangeError|ReferenceError|Maximum call stack/);
    if (r.code !== 0) expect(r.stderr).toMatch(/^kprobe-node: \S/);
    expect(Date.now() - start).toBeLessThan(15000);
  });
});
