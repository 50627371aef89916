/**
 * Pinned probes: `--pin <name>` keeps a probe attached after the CLI exits;
 * `pinned` lists it with what it traces; another process reads its events
 * (those produced while nobody read included) with decoded arguments;
 * `unpin` removes it and the kernel drops its link. A pinned probe has its own
 * BPF object: the process's other probes come and go without touching it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { NotFoundError, OptionError, Probe, TraceEvent, attachSyscall, attachTracepoint } from '../../lib';
import { INFO_ROOT, PIN_ROOT, listPinned, openPinned, pinProbe, unpin } from '../../lib/pin';
import { collect, errorOf, waitForEvent } from '../helpers/events';
import { describeHost } from '../helpers/host';
import { runCli } from '../helpers/proc';
import { Workload } from '../helpers/workload';

jest.setTimeout(30000);

const TP = 'syscalls:sys_enter_syncfs';

/** The kernel's id of the link pinned at `file`, or undefined when there is none. */
function pinnedLinkId(file: string): number | undefined {
  try {
    return (JSON.parse(execFileSync('bpftool', ['link', 'show', 'pinned', file, '-j'], { encoding: 'utf8', stdio: 'pipe' })) as { id: number }).id;
  } catch {
    return undefined;
  }
}

function linkExists(id: number): boolean {
  const links = JSON.parse(execFileSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' }) || '[]') as Array<{ id: number }>;
  return links.some((l) => l.id === id);
}

/** A kn_workload that calls syncfs on / once; resolves with its pid and the fd it used. */
async function syncfsWorkload(): Promise<{ pid: number; fd: number }> {
  const w = new Workload(['syncfs', '/']);
  const pid = await w.ready();
  const out = await w.go();
  return { pid, fd: Number(/^fd (\d+)$/.exec(out[0] ?? '')?.[1]) };
}

describeHost('pinned probes', { root: true, tracefs: true, tools: ['bpftool', 'gcc'] }, () => {
  const names: string[] = [];
  const open: Probe[] = [];
  const name = (what: string) => {
    const n = `test-${process.pid}-${what}`;
    names.push(n);
    return n;
  };
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  afterAll(() => {
    for (const n of names) {
      try {
        unpin(n);
      } catch {
        // already gone
      }
    }
  });

  test('--pin outlives the CLI; another process reads what it traced, then unpin detaches it', async () => {
    const n = name('cli');
    const r = await runCli(['--tracepoint', TP, '--arg', 'fd', '--pin', n, '--duration', '0.2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`pinned as ${n}`);

    // The CLI is gone; its link is still in the kernel, pinned.
    const dir = `${PIN_ROOT}/${n}`;
    expect(fs.readdirSync(dir).sort()).toEqual(['configs', 'events', 'link-1', 'lost', 'reader']);
    const link = pinnedLinkId(`${dir}/link-1`);
    expect(link).toBeDefined();
    expect(linkExists(link!)).toBe(true);

    // Traced while nobody reads: the ring keeps it for the next reader.
    const before = await syncfsWorkload();

    const listed = await runCli(['pinned', '--json']);
    expect(listed.code).toBe(0);
    const info = listed.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((p) => p.name === n);
    expect(info).toMatchObject({ name: n, target: `tracepoint:${TP}`, ret: false, options: { args: ['fd'] }, strategy: `tracepoint ${TP}`, links: 1, linksPinned: 1 });
    const text = await runCli(['pinned']);
    expect(text.stdout).toContain(`${n}  tracepoint:${TP} --args ["fd"]`);

    const reader = openPinned(n);
    open.push(reader);
    const events = collect(reader);
    const backlog = await waitForEvent(events, (e) => e.pid === before.pid, 'produced before the reader opened the pin');
    expect(backlog.args).toEqual({ fd: before.fd });
    expect(backlog.comm).toBe('kn_workload');
    const live = await syncfsWorkload();
    await waitForEvent(events, (e) => e.pid === live.pid, 'produced while the reader reads');
    reader.close();
    // Reading and closing left it pinned.
    expect(linkExists(link!)).toBe(true);

    const u = await runCli(['unpin', n]);
    expect(u.code).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(`${INFO_ROOT}/${n}.json`)).toBe(false);
    expect(linkExists(link!)).toBe(false);
    expect(listPinned().map((p) => p.name)).not.toContain(n);
    const again = await runCli(['attach-pinned', n]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`no probe pinned as ${n}`));
  });

  test('attach-pinned streams lines and ends with a summary; the probe stays pinned', async () => {
    const n = name('stream');
    const p = pinProbe(n, `tracepoint:${TP}`, { args: ['fd'] });
    p.close(); // stops reading here, not tracing
    const w = await syncfsWorkload();
    const r = await runCli(['attach-pinned', n, '--duration', '0.5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`kn_workload ${w.pid} fd=${w.fd}$`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^kprobe-node: \\d+ events, 0 lost; ${n} stays pinned$`, 'm'));
    expect(listPinned().map((x) => x.name)).toContain(n);
  });

  test("a pinned probe has its own object: the process's other probes come and go without touching it", async () => {
    const n = name('own');
    const pinned = pinProbe(n, `tracepoint:${TP}`);
    open.push(pinned);
    const plain = attachTracepoint(TP);
    const pinnedEvents = collect(pinned);
    const plainEvents = collect(plain);
    const w1 = await syncfsWorkload();
    await waitForEvent(pinnedEvents, (e: TraceEvent) => e.pid === w1.pid, 'on the pinned probe');
    await waitForEvent(plainEvents, (e: TraceEvent) => e.pid === w1.pid, 'on the plain probe');
    plain.close();
    const w2 = await syncfsWorkload();
    await waitForEvent(pinnedEvents, (e: TraceEvent) => e.pid === w2.pid, 'on the pinned probe after the plain one closed');
    // Each event reached its own probe once: no shared ring, no shared id.
    expect(pinnedEvents.filter((e) => e.pid === w1.pid)).toHaveLength(1);
    expect(plainEvents.filter((e) => e.pid === w1.pid)).toHaveLength(1);
  });

  test('{ pin } on attachSyscall pins the probe: its links and maps are in bpffs and listed, unpin removes them', async () => {
    const n = name('option');
    const probe = attachSyscall('syncfs', { pin: n });
    open.push(probe);
    const dir = `${PIN_ROOT}/${n}`;
    expect(fs.readdirSync(dir).sort()).toEqual(expect.arrayContaining(['configs', 'events', 'link-1', 'lost', 'reader']));
    expect(listPinned().find((p) => p.name === n)?.target).toBe('syscall:syncfs');
    const events = collect(probe);
    const w = await syncfsWorkload();
    await waitForEvent(events, (e: TraceEvent) => e.pid === w.pid, 'on the probe pinned through the option');
    probe.close();
    unpin(n);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('what a pinned probe traces is for root only: /run/kprobe-node is 0700, its file 0600, even where the directory was looser', () => {
    fs.mkdirSync(INFO_ROOT, { recursive: true });
    fs.chmodSync(INFO_ROOT, 0o755); // as an older version, or another tool, may have left it
    const n = name('modes');
    open.push(pinProbe(n, `tracepoint:${TP}`, { comm: 'kn_secret', filter: 'fd == 3' }));
    expect(fs.statSync(INFO_ROOT).mode & 0o777).toBe(0o700);
    const info = `${INFO_ROOT}/${n}.json`;
    expect(fs.statSync(info).mode & 0o777).toBe(0o600);
    expect(fs.statSync(info).uid).toBe(0);
    expect(JSON.parse(fs.readFileSync(info, 'utf8')).options).toEqual({ comm: 'kn_secret', filter: 'fd == 3' });
  });

  test('{ signal } on a pinned probe and on openPinned stops reading on abort; the probe stays pinned', () => {
    const n = name('signal');
    const ac = new AbortController();
    const probe = attachTracepoint(TP, { pin: n, signal: ac.signal });
    ac.abort();
    expect(probe.closed).toBe(true);
    expect(listPinned().map((p) => p.name)).toContain(n);
    const reader = new AbortController();
    const again = openPinned(n, { signal: reader.signal });
    expect(again.closed).toBe(false);
    reader.abort();
    expect(again.closed).toBe(true);
    expect(listPinned().map((p) => p.name)).toContain(n);
    const aborted = new AbortController();
    aborted.abort();
    expect(errorOf(() => openPinned(n, { signal: aborted.signal }))).toBe(aborted.signal.reason);
  });

  test('bad names and a taken name are OptionErrors; an unknown name is a NotFoundError', () => {
    for (const bad of ['', '.', '..', '../x', 'a/b', 'x'.repeat(65), 'nul\0', 'é']) {
      const e = errorOf(() => pinProbe(bad, `tracepoint:${TP}`));
      expect(e).toBeInstanceOf(OptionError);
    }
    const n = name('taken');
    open.push(pinProbe(n, `tracepoint:${TP}`));
    const e = errorOf(() => pinProbe(n, `tracepoint:${TP}`));
    expect(e).toBeInstanceOf(OptionError);
    expect(e.message).toContain('already pinned');
    expect(errorOf(() => openPinned(`test-${process.pid}-missing`))).toBeInstanceOf(NotFoundError);
    expect(errorOf(() => unpin(`test-${process.pid}-missing`))).toBeInstanceOf(NotFoundError);
  });
});
