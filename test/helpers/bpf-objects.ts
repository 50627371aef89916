/**
 * The BPF programs and links a process holds, read from its file descriptors
 * (/proc/<pid>/fdinfo names the prog_id and link_id of each), and whether
 * the kernel still has them (bpftool). Other processes may be tracing too, so
 * tests look only at the ids of the process they started.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface BpfObjects {
  progs: number[];
  links: number[];
}

/** Program and link ids behind the open fds of `pid`. */
export function bpfObjectsOf(pid: number | 'self'): BpfObjects {
  const progs = new Set<number>();
  const links = new Set<number>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return { progs: [], links: [] };
  }
  for (const fd of fds) {
    let target = '';
    let info = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed in between
    }
    const prog = /^prog_id:\s*(\d+)$/m.exec(info);
    const link = /^link_id:\s*(\d+)$/m.exec(info);
    if (target === 'anon_inode:bpf_link' && link) links.add(Number(link[1]));
    if (target === 'anon_inode:bpf-prog' && prog) progs.add(Number(prog[1]));
    if (prog && target === 'anon_inode:bpf_link') progs.add(Number(prog[1]));
  }
  return { progs: [...progs].sort((a, b) => a - b), links: [...links].sort((a, b) => a - b) };
}

function ids(kind: 'prog' | 'link'): Set<number> {
  const list = JSON.parse(execFileSync('bpftool', [kind, 'list', '-j'], { encoding: 'utf8' }) || '[]') as Array<{ id: number }>;
  return new Set(list.map((o) => o.id));
}

/** Which of `objects` the kernel still has. */
export function stillLoaded(objects: BpfObjects): BpfObjects {
  const progs = ids('prog');
  const links = ids('link');
  return { progs: objects.progs.filter((id) => progs.has(id)), links: objects.links.filter((id) => links.has(id)) };
}

/** Number of open fds of this process. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
