/**
 * A program the verifier rejects becomes a VerifierError: a one-line summary
 * (the failing instruction and the reason) in the message, the full log on
 * `.log`. The rejected object is test/fixtures/broken.bpf.c, built here with
 * clang and loaded through the addon the same way the session loads its own.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VerifierError } from '../../lib';
import { native } from '../../lib/sys/native';
import { toTypedError, verifierSummary } from '../../lib/sys/errno';
import { describeHost, repoRoot } from '../helpers/host';

function build(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-broken-'));
  const out = path.join(dir, 'broken.bpf.o');
  const arch = `/usr/include/${execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim()}-linux-gnu`;
  execFileSync('clang', ['-target', 'bpf', '-g', '-O2', `-I${arch}`, '-c', path.join(repoRoot, 'test', 'fixtures', 'broken.bpf.c'), '-o', out], { stdio: 'pipe' });
  return out;
}

describeHost('verifier errors', { root: true, tools: ['clang'] }, () => {
  test('a rejected load: the failing instruction and reason in the message, the whole log on .log', () => {
    const object = build();
    let thrown: unknown;
    try {
      const t = new (native().Tracer)(object, { maxProbes: 4, ringBytes: 4096, wakeupBytes: 1024, maxCounts: 4, programs: ['kn_tracepoint'] });
      t.close();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeDefined();
    const e = toTypedError(thrown, 'load the BPF programs') as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EKN_VERIFIER');
    expect(e.errno).toBe('EACCES');
    expect(e.message).toBe(
      "load the BPF programs: the kernel's verifier rejected the program: 7: (79) r1 = *(u64 *)(r0 +0) / R0 invalid mem access 'map_value_or_null'",
    );
    expect(e.log).toContain('-- BEGIN PROG LOAD LOG --');
    expect(e.log).toContain("prog 'kn_tracepoint'");
    expect(e.log).toMatch(/processed \d+ insns/);
    // The source line the failing instruction came from is in the log.
    expect(e.log).toContain('return *value > wakeup_bytes');
  });

  test('the summary skips source lines and libbpf chatter, and falls back to pointing at .log', () => {
    const log = [
      "libbpf: prog 'x': BPF program load failed: Permission denied",
      '0: R1=ctx() R10=fp0',
      '; x = *p; @ a.c:3',
      '12: (61) r2 = *(u32 *)(r1 +4096)',
      'invalid access to context, off=4096 size=4',
      '; y @ a.c:4',
      'processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1',
      '-- END PROG LOAD LOG --',
    ].join('\n');
    expect(verifierSummary(log)).toBe('12: (61) r2 = *(u32 *)(r1 +4096) / invalid access to context, off=4096 size=4');
    expect(verifierSummary('')).toBe('see .log');
  });
});
