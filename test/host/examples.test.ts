/**
 * The README's examples of users' own BPF programs, run as it shows them:
 * examples/biolatency counts the block I/O of a dd reading with O_DIRECT.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describeHost, repoRoot } from '../helpers/host';
import { readmeBlocks } from '../helpers/readme';

jest.setTimeout(60_000);

/** The `$ ` commands of the fenced block of the README's "Your own BPF programs" that contains `marker`, and the output it shows. */
function readmeBlock(marker: string): { commands: string[]; output: string[] } {
  const block = readmeBlocks('Your own BPF programs').find((b) => b.text.includes(marker));
  if (!block) throw new Error(`no README block with ${marker}`);
  const lines = block.text.split('\n').filter((l) => l !== '');
  return {
    commands: lines.filter((l) => l.startsWith('$ ')).map((l) => l.slice(2).replace(/^sudo /, '')),
    output: lines.filter((l) => !l.startsWith('$ ')),
  };
}

describeHost('the README example of a BPF object of your own', { root: true, tracefs: true, tools: ['clang', 'dd'] }, () => {
  test('biolatency: a histogram per process, the dd that read 64 blocks among them', () => {
    const { commands, output } = readmeBlock('dist/examples/biolatency/biolatency.js');
    expect(commands).toHaveLength(2);
    let out = '';
    for (const c of commands) {
      const r = spawnSync('/bin/sh', ['-c', c], { cwd: repoRoot, encoding: 'utf8', timeout: 50_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      out = r.stdout;
    }
    // The README shows dd's row, as every run prints it: "dd (pid N): 64 I/Os, mean 97 us", then its histogram.
    const row = /^dd \(pid \d+\): (\d+) I\/Os, mean \d+ us$/;
    expect(output[0]).toMatch(row);
    const lines = out.split('\n');
    const at = lines.findIndex((l) => row.test(l));
    expect(at).toBeGreaterThanOrEqual(0);
    const count = Number(row.exec(lines[at])![1]);
    // dd read 64 blocks; a few may be issued to the device by a kblockd worker (counted under kworker), a few more by dd's own start.
    expect(count).toBeGreaterThanOrEqual(32);
    expect(count).toBeLessThanOrEqual(80);
    const bars = /^ {2}\[[^)]+\)\s+(\d+) \|@+$/;
    for (const l of output.slice(1)) expect(l).toMatch(bars);
    const hist: number[] = [];
    for (let i = at + 1; i < lines.length && bars.test(lines[i]); i++) hist.push(Number(bars.exec(lines[i])![1]));
    expect(hist.reduce((a, b) => a + b, 0)).toBe(count);
  });
});
