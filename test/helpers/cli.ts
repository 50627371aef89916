/**
 * A running CLI whose probes are attached: started as a child, and known to
 * be attached once the kernel shows a link of one of our programs among its
 * fds (asked of the kernel and bpftool, not of the CLI). For tests that must
 * act while it traces.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { Child, cliPath, until } from './proc';

/**
 * BPF links process `pid` holds whose program is one of ours (kn_*). libbpf
 * opens and closes links of its own while it probes the kernel's features
 * during a load: those run other programs, and must not count as attached.
 */
export function probeLinks(pid: number): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf_link') continue;
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      const prog = /^prog_id:\s*(\d+)$/m.exec(info)?.[1];
      const link = /^link_id:\s*(\d+)$/m.exec(info)?.[1];
      if (!prog || !link) continue;
      const name = (JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', prog, '-j'], { encoding: 'utf8', stdio: 'pipe' })) as { name?: string }).name;
      if (name?.startsWith('kn_')) out.push(Number(link));
    } catch {
      // closed in between
    }
  }
  return out;
}

/** Starts `kprobe-node ...args`; resolves once it holds at least `links` links of our programs. */
export async function startAttached(args: string[], links = 1): Promise<Child> {
  const cli = new Child(process.execPath, [cliPath, ...args]);
  const ok = await until(() => cli.proc.exitCode !== null || probeLinks(cli.pid).length >= links, 15000);
  if (!ok || cli.proc.exitCode !== null) {
    cli.kill();
    throw new Error(`kprobe-node ${args.join(' ')} did not attach (exit ${cli.proc.exitCode}): ${cli.stderr}`);
  }
  return cli;
}

/** Ends it as Ctrl-C does; resolves with its exit status once it is gone. */
export async function interrupt(cli: Child): Promise<number | null> {
  cli.kill('SIGINT');
  return (await cli.exited).code;
}

/** max_entries of the BPF ring buffer maps (map_type 27) process `pid` holds, from /proc/<pid>/fdinfo. */
export function ringSizes(pid: number | 'self'): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      if (/^map_type:\s*27$/m.test(info)) out.push(Number(/^max_entries:\s*(\d+)$/m.exec(info)?.[1]));
    } catch {
      // closed in between
    }
  }
  return out;
}
