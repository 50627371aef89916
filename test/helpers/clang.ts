/**
 * BPF objects compiled by the tests themselves, as a user would compile
 * theirs: clang -g -O2 -target bpf, with libbpf's headers (the ones the addon
 * is built with when they are there, else the system's libbpf-dev).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from './host';

const ARCH = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();

/** Compiles `source` (C) into `<dir>/<name>.bpf.o`; `dir` is a fresh temp dir unless given. Returns the object's path. */
export function compileBpf(name: string, source: string, opts: { dir?: string; flags?: string[] } = {}): string {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kn-obj-'));
  const c = path.join(dir, `${name}.bpf.c`);
  const out = path.join(dir, `${name}.bpf.o`);
  fs.writeFileSync(c, source);
  const include = path.join(repoRoot, '.cache', 'libbpf', 'prefix', 'include');
  const args = ['-target', 'bpf', '-g', '-O2', '-Wall', `-D__TARGET_ARCH_${ARCH === 'aarch64' ? 'arm64' : 'x86'}`, `-I/usr/include/${ARCH}-linux-gnu`];
  if (fs.existsSync(include)) args.push(`-I${include}`);
  try {
    execFileSync('clang', [...args, ...(opts.flags ?? []), '-c', c, '-o', out], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`clang failed on ${name}.bpf.c: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  }
  return out;
}

/** The x86-64 registers a kprobe or uprobe program reads (CO-RE relocated), for test programs. */
export const PT_REGS = `
struct pt_regs {
  unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
  unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));
`;
