/**
 * Listing on a kernel with kprobes (the test VM): what kprobes refuse (the
 * kprobe blacklist) and what ftrace cannot hook (absent from
 * available_filter_functions) is dropped; module functions carry their
 * module; and the names that, on a kernel without kprobes, get tracepoint
 * suggestions (test/host/list.test.ts) attach and fire here. The files are
 * read directly, so a bug in lib/kallsyms.ts cannot agree with itself.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import { TraceEvent, attachKprobe, kernelFeatures, listFunctions } from '../../lib';
import { runCli } from '../helpers/proc';

jest.setTimeout(120_000);

/** Text symbols of /proc/kallsyms: name -> how many times it occurs, and the module of each. */
function kallsymsText(): { count: Map<string, number>; module: Map<string, string> } {
  const count = new Map<string, number>();
  const module = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const m = /^\S+ [tTwW] (\S+)(?:\t\[(\S+)\])?$/.exec(line);
    // BPF programs ([bpf]) and the kernel's own trampolines ([__builtin__*]) are not modules' functions.
    if (!m || m[2] === 'bpf' || m[2]?.startsWith('__builtin')) continue;
    count.set(m[1], (count.get(m[1]) ?? 0) + 1);
    if (m[2]) module.set(m[1], m[2]);
  }
  return { count, module };
}

/** A list as its length and first names: what a failure needs to show of thousands. */
const few = (names: string[]) => ({ count: names.length, first: names.slice(0, 10) });

/** `0xstart-0xend\tname [module]` per line. */
const blacklist = () => new Set(fs.readFileSync('/sys/kernel/debug/kprobes/blacklist', 'utf8').split('\n').map((l) => l.split('\t')[1]?.split(' ')[0]).filter(Boolean));
/** `name [module]` per line. */
const traceable = () => new Set(fs.readFileSync('/sys/kernel/tracing/available_filter_functions', 'utf8').split('\n').map((l) => l.split(' ')[0]).filter(Boolean));

beforeAll(() => {
  // This suite exists to exercise kprobes: without them it must fail, not skip.
  expect(kernelFeatures().kprobes).toBe(true);
});

test('listFunctions() drops the kprobe blacklist and keeps only what ftrace can hook', () => {
  const black = blacklist();
  const ftrace = traceable();
  const { count } = kallsymsText();
  const listed = new Set(listFunctions().map((f) => f.name));
  // Every listed function passes both files (a failure shows how many do not, and the first few).
  expect(few([...listed].filter((n) => black.has(n)))).toEqual(few([]));
  expect(few([...listed].filter((n) => !ftrace.has(n)))).toEqual(few([]));
  // Real examples on this kernel (named once in kallsyms, so no namesake can be meant): each dropped.
  const blacklisted = [...black].filter((n) => count.get(n) === 1);
  const unhookable = [...count.keys()].filter((n) => count.get(n) === 1 && !black.has(n) && !ftrace.has(n) && /^[a-z]\w+$/.test(n));
  expect(blacklisted.length).toBeGreaterThan(10);
  expect(unhookable.length).toBeGreaterThan(10);
  expect(few([...blacklisted, ...unhookable].filter((n) => listed.has(n)))).toEqual(few([]));
  // And what passes both is listed: the filters drop only what they must.
  const fine = [...count.keys()].filter((n) => count.get(n) === 1 && !black.has(n) && ftrace.has(n) && /^[a-z]\w+$/.test(n));
  expect(fine.length).toBeGreaterThan(1000);
  expect(few(fine.filter((n) => !listed.has(n)))).toEqual(few([]));
});

test('kprobe-node list: a blacklisted and an unhookable function match nothing; a hookable one is listed', async () => {
  const black = blacklist();
  const ftrace = traceable();
  const { count } = kallsymsText();
  const once = (n: string) => count.get(n) === 1 && /^[a-z]\w+$/.test(n);
  const blacklisted = [...black].find(once) as string;
  const unhookable = [...count.keys()].find((n) => once(n) && !black.has(n) && !ftrace.has(n)) as string;
  expect(blacklisted).toBeDefined();
  expect(unhookable).toBeDefined();
  for (const n of [blacklisted, unhookable]) {
    const r = await runCli(['list', n], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`kprobe-node: nothing matches ${n}\n`);
  }
  const ok = await runCli(['list', 'vfs_fsync_range'], { timeoutMs: 60_000 });
  expect(ok.stdout).toBe('vfs_fsync_range\n');
  // Three CLI runs, each reading kallsyms and tracefs under emulation.
}, 240_000);

// cuse is a module on Debian's 6.1 and 6.12 alike (fuse, which it needs, is built in on 6.12).
test('functions of a loaded module carry the module (cuse)', () => {
  execFileSync('modprobe', ['cuse']);
  const { module } = kallsymsText();
  expect(module.get('cuse_open')).toBe('cuse');
  const cuse = listFunctions('cuse_*');
  expect(cuse.find((f) => f.name === 'cuse_open')).toEqual({ name: 'cuse_open', module: 'cuse' });
  // Each carries the module kallsyms names for it.
  expect(cuse.filter((f) => f.module !== module.get(f.name))).toEqual([]);
});

/** Events of a probe from `pid` while `run` runs (up to a few tries). */
async function firesFor(probe: ReturnType<typeof attachKprobe>, pid: number, run: () => void): Promise<TraceEvent[]> {
  const seen: TraceEvent[] = [];
  probe.on('event', (ev: TraceEvent) => {
    if (ev.pid === pid) seen.push(ev);
  });
  for (let i = 0; i < 20 && seen.length === 0; i++) {
    run();
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

// The counterpart of the host's "no kprobes here" case: those names attach and fire where kprobes exist.
test('the names the host answers with tracepoint hints attach here and fire', async () => {
  const file = `/tmp/kn-list-${process.pid}`;
  fs.writeFileSync(file, 'x');
  const cases: Array<[string, () => void]> = [
    // A fork from this process runs sched_fork in it.
    ['sched_fork', () => spawnSync('true')],
    ['__x64_sys_openat', () => fs.closeSync(fs.openSync(file, 'r'))],
    ['vfs_fsync_range', () => {
      const fd = fs.openSync(file, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }],
  ];
  for (const [fn, run] of cases) {
    const probe = attachKprobe(fn, { pid: process.pid });
    try {
      expect(probe.strategy).toBe(`kprobe ${fn}`);
      const evs = await firesFor(probe, process.pid, run);
      expect(evs.length).toBeGreaterThan(0);
      expect(evs[0].probe).toBe(`kprobe:${fn}`);
    } finally {
      probe.close();
    }
  }
});
