/** What the kernel itself says is attached, read with bpftool (not through lib/). */
import { execFileSync } from 'child_process';

export interface KernelLink {
  id: number;
  type: string;
  prog_id: number;
}

export function kernelLinks(): KernelLink[] {
  return JSON.parse(execFileSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' }) || '[]') as KernelLink[];
}

/** Links in the kernel that run program `progId`. */
export function linksOfProgram(progId: number): KernelLink[] {
  return kernelLinks().filter((l) => l.prog_id === progId);
}
