/**
 * The session: one per process. It loads the generic BPF object once, owns
 * the ring buffer that every probe shares, hands out probe ids (the BPF
 * cookie that selects each probe's config in the kernel) and dispatches
 * batches of records to their probes.
 */
import { CFG_KSTACK, CFG_USTACK, ProbeConfig, encodeConfig, layout } from './abi';
import { ArgPlan, RecordDecoder } from './decode';
import {
  KprobeNodeError,
  NotFoundError,
  OptionError,
  PermissionError,
  SystemError,
  UnsupportedError,
  VerifierError,
} from './errors';
import { checkKernelFloor, checkPrivileges } from './features';
import { BpfProgram, NativeTracer, bpfObjectPath, isNativeError, native } from './native';
import { Probe, ProbeKind, ProbeOwner } from './probe';

export interface SessionOptions {
  /** Ring buffer size in bytes (a power of two, at least one page). */
  ringBytes: number;
  /** How often the ring is drained when no wake-up came, in ms. */
  drainMs: number;
  /** Most probes open at once. */
  maxProbes: number;
  /** Entries of the in-kernel count map (shared by all counting probes). */
  maxCounts: number;
}

const defaults: SessionOptions = { ringBytes: 8 << 20, drainMs: 10, maxProbes: 1024, maxCounts: 10240 };

/** What to attach: one call per kernel attachment, given the cookie to use. */
export type Attacher = (tracer: NativeTracer, cookie: number) => number;

/**
 * One of several kernel attachments under one Probe (the functions a
 * wildcard matched): each has its own probe id, config and decoder, so
 * events name the function they came from.
 */
export interface ProbePart {
  name: string;
  plans: ArgPlan[];
  config: Omit<ProbeConfig, 'args'>;
}

/** Attaches every part at once, given their ids (cookies); returns the links. */
export type PartsAttacher = (tracer: NativeTracer, ids: number[]) => number[];

interface Entry {
  id: number;
  probe: Probe;
  decoder: RecordDecoder;
  links: number[];
  lostSeen: number;
  /** The ids of every part of the probe (one, unless it has parts); the same array in each. */
  group: number[];
}

const R = layout.record;

/**
 * 'normal': the process's shared session. 'pinned': a session of its own for
 * one pinned probe, whose config must stay in place when this process lets
 * go. 'reader': reads a pinned probe's maps from bpffs; it attaches nothing
 * and writes no config.
 */
export type SessionMode = 'normal' | 'pinned' | 'reader';

/**
 * Turns what the addon threw into a typed error. `what` names the operation
 * in words ("attach kprobe vfs_read").
 */
export function toTypedError(e: unknown, what: string, notFound?: () => KprobeNodeError): Error {
  if (!isNativeError(e)) return e as Error;
  const extra = { errno: e.code, log: e.log };
  const log = e.log ?? '';
  if (log.includes('BEGIN PROG LOAD LOG') || /processed \d+ insns/.test(log)) {
    return new VerifierError(`${what}: the kernel's verifier rejected the program: ${verifierSummary(log)}`, log, { errno: e.code });
  }
  switch (e.code) {
    case 'EPERM':
    case 'EACCES':
      return new PermissionError(`${what}: not permitted (${e.code}); tracing needs root or CAP_BPF and CAP_PERFMON`, extra);
    case 'ENOENT':
    case 'ESRCH':
      return notFound ? notFound() : new NotFoundError(`${what}: not found (${e.code})`, [], extra);
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
    case 'ENOTSUPP':
    case 'ENOSYS':
      return new UnsupportedError(what, `${what}: not supported by this kernel (${e.code})`, extra);
    default:
      return new SystemError(`${what}: ${e.message}`, extra);
  }
}

/** The verifier's reason: the last meaningful lines before its statistics. */
export function verifierSummary(log: string): string {
  const lines = log.split('\n').map((l) => l.trim());
  const end = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  const body = (end >= 0 ? lines.slice(0, end) : lines).filter((l) => l && !l.startsWith(';') && !l.startsWith('libbpf:'));
  return body.slice(-2).join(' / ') || 'see .log';
}

export class Session implements ProbeOwner {
  private static current?: Session;
  #tracer?: NativeTracer;
  private readonly probes = new Map<number, Entry>();
  private readonly freeIds: number[] = [];
  private nextId = 1; // cookie 0 means "no cookie"
  private polling = false;
  private lostTimer?: NodeJS.Timeout;
  private backgroundDetach = false;

  private constructor(
    private readonly options: SessionOptions,
    private readonly mode: SessionMode = 'normal',
    private readonly pinDir?: string,
  ) {
    checkPrivileges();
    // A reader has nothing to attach: it opens the pinned maps now. Otherwise
    // the object loads with the first probe, verifying only the program it needs.
    if (mode === 'reader') this.load([]);
  }

  private load(programs: BpfProgram[], background = false): NativeTracer {
    checkKernelFloor();
    const binding = native();
    try {
      this.#tracer = new binding.Tracer(bpfObjectPath, {
        background,
        maxProbes: this.options.maxProbes,
        ringBytes: this.options.ringBytes,
        wakeupBytes: this.options.ringBytes / 4,
        batchBytes: 1 << 20,
        maxCounts: this.options.maxCounts,
        programs,
        ...(this.mode === 'reader' ? { pinned: this.pinDir } : {}),
      });
    } catch (e) {
      throw toTypedError(e, 'load the BPF programs');
    }
    return this.#tracer;
  }

  private get tracer(): NativeTracer {
    return this.#tracer ?? this.load([]);
  }

  /**
   * Starts loading the process's session on a native thread, with `program`
   * (what the first probe will most likely need), so that the ~30 ms the
   * kernel's verifier and libbpf take overlap whatever the caller does next.
   * The first attach waits for it; a failure surfaces there. Does nothing
   * once the session exists.
   */
  static preload(program: BpfProgram): void {
    if (Session.current) return;
    try {
      Session.get().load([program], true);
    } catch {
      // Privileges and the like: the first attach reports them.
    }
  }

  /** Waits for a preloaded tracer; a failed load is reported as loading errors are, and forgotten. */
  private ready(): void {
    try {
      this.#tracer?.ready();
    } catch (e) {
      this.#tracer = undefined;
      throw toTypedError(e, 'load the BPF programs');
    }
  }

  private static pending: Partial<SessionOptions> = {};

  private static scoped?: Session;

  /** The process's session, created on first use (or the one `Session.using` names). */
  static get(): Session {
    if (Session.scoped) return Session.scoped;
    return (Session.current ??= new Session({ ...defaults, ...envOptions(), ...Session.pending }));
  }

  /**
   * Options for the session the first probe creates (they win over the
   * environment). Map sizes are fixed when the BPF object loads, so this
   * fails once a probe has been attached.
   */
  static configure(options: Partial<SessionOptions>): void {
    if (Session.current) throw new OptionError('configure() must come before the first probe: the BPF maps are already loaded');
    Session.pending = { ...Session.pending, ...options };
  }

  /** A session apart from the process's: for one pinned probe, or reading one from `dir`. */
  static separate(mode: 'pinned' | 'reader', dir?: string): Session {
    return new Session({ ...defaults, ...envOptions(), maxProbes: 64 }, mode, dir);
  }

  /** Runs `fn` (an attach function) with `session` as the session it attaches in. */
  static using<T>(session: Session, fn: () => T): T {
    const outer = Session.scoped;
    Session.scoped = session;
    try {
      return fn();
    } finally {
      Session.scoped = outer;
    }
  }

  /** Pins this session's maps and links under `dir` (a 'pinned' session). */
  pin(dir: string): void {
    try {
      this.tracer.pin(dir);
    } catch (e) {
      throw toTypedError(e, `pin under ${dir}`);
    }
  }

  /** Attaches a new probe; on any failure nothing stays attached. */
  attach(spec: {
    name: string;
    kind: ProbeKind;
    strategy: string;
    plans: ArgPlan[];
    config: Omit<ProbeConfig, 'args'>;
    /** Things the user should know (no BTF, a clone attached instead). */
    warnings?: string[];
    attachers: Attacher[];
    /** Several attachments, one probe id each (wildcards); `plans` and `config` then describe the first. */
    parts?: ProbePart[];
    attachParts?: PartsAttacher;
    describe: string;
    notFound?: () => KprobeNodeError;
  }): Probe {
    const parts = spec.parts ?? [{ name: spec.name, plans: spec.plans, config: spec.config }];
    this.ready();
    if (!this.#tracer) this.load([spec.kind === 'tracepoint' ? 'kn_tracepoint' : 'kn_kprobe']);
    const ids: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const id = this.freeIds.pop() ?? this.nextId++;
      if (id >= this.options.maxProbes) {
        // Only a fresh id can be out of range: give it and the others back.
        this.nextId--;
        this.freeIds.push(...ids);
        const what = parts.length > 1 ? `${parts.length} functions need as many probes: ` : '';
        throw new UnsupportedError('probes', `${what}at most ${this.options.maxProbes - 1} probes can be open at once (configure({ maxProbes }) raises it)`);
      }
      ids.push(id);
    }
    const probe = new Probe(this, ids[0], spec.name, spec.kind, spec.strategy, spec.plans, spec.warnings ?? []);
    const entries: Entry[] = parts.map((part, i) => {
      const flags = part.config.flags ?? 0;
      const stacks = { kernel: (flags & CFG_KSTACK) !== 0, user: (flags & CFG_USTACK) !== 0 };
      return { id: ids[i], probe, decoder: new RecordDecoder(part.name, part.plans, stacks), links: [], lostSeen: this.tracer.lost(ids[i]), group: ids };
    });
    try {
      for (const [i, entry] of entries.entries()) {
        // A reader only decodes: the pinned config is already in the kernel.
        if (this.mode !== 'reader') this.tracer.setConfig(entry.id, encodeConfig({ ...parts[i].config, args: parts[i].plans.map((p) => p.fetch) }));
        this.probes.set(entry.id, entry);
      }
      if (this.mode !== 'reader') {
        for (const attach of spec.attachers) entries[0].links.push(attach(this.tracer, ids[0]));
        if (spec.attachParts) entries[0].links.push(...spec.attachParts(this.tracer, ids));
      }
    } catch (e) {
      for (const entry of entries) this.release(entry);
      throw toTypedError(e, spec.describe, spec.notFound);
    }
    this.startPolling();
    return probe;
  }

  close(probe: Probe): void {
    const first = this.probes.get(probe.id);
    if (!first || first.probe !== probe) return;
    const entries = first.group.map((id) => this.probes.get(id)).filter((e): e is Entry => e?.probe === probe);
    if (this.backgroundDetach && this.tracer.handOff(entries.flatMap((e) => e.links))) {
      for (const entry of entries) entry.links = [];
    }
    for (const entry of entries) {
      for (const link of entry.links) this.tracer.detach(link);
      entry.links = [];
    }
    // Deliver what the probe produced before it was detached.
    this.tracer.drain();
    this.checkLost();
    for (const entry of entries) this.release(entry);
  }

  private release(entry: Entry): void {
    for (const link of entry.links) this.tracer.detach(link);
    // A pinned probe keeps running in the kernel: its config stays.
    if (this.mode === 'normal') {
      this.tracer.setConfig(entry.id, Buffer.alloc(layout.config.size));
      // A reused id must start from zero.
      this.tracer.resetHist(entry.id);
      this.tracer.clearCounts(entry.id);
    }
    this.probes.delete(entry.id);
    this.freeIds.push(entry.id);
    if (this.probes.size === 0) {
      this.stopPolling();
      // A separate session serves one probe: let go of its fds with it.
      if (this.mode !== 'normal') this.tracer.close();
    }
  }

  /**
   * For a process about to exit (the CLI): from now on, closing a probe
   * disables its links and leaves the rest of the kernel's detach, which waits
   * for RCU grace periods (~50-100 ms for a tracepoint), to a kernel worker,
   * instead of waiting here. Where io_uring is unavailable, closing waits as before.
   */
  detachInBackground(): void {
    this.backgroundDetach = true;
  }

  /** Delivers what is in the ring buffer now (tests and shutdown use it). */
  flush(): void {
    this.tracer.drain();
    this.checkLost();
  }

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    this.tracer.start((batch) => this.dispatch(batch), this.options.drainMs);
    // Loss must be reported even when nothing else arrives.
    this.lostTimer = setInterval(() => this.checkLost(), 250);
    this.lostTimer.unref();
  }

  private stopPolling(): void {
    if (!this.polling) return;
    this.polling = false;
    this.tracer.stop();
    clearInterval(this.lostTimer);
  }

  private dispatch(batch: Buffer): void {
    let failure: unknown;
    for (let at = 0; at + R.size <= batch.length; ) {
      const size = batch.readUInt32LE(at);
      if (size < R.size) break; // never happens with a sound producer; do not spin
      const entry = this.probes.get(batch.readUInt32LE(at + R.probe_id));
      if (entry) {
        entry.probe.seen++;
        try {
          entry.probe.emit('event', entry.decoder.decode(batch, at, Math.min(at + size, batch.length)));
        } catch (e) {
          failure ??= e;
        }
      }
      at += size;
    }
    this.checkLost();
    // A listener's exception surfaces as it would from any emitter, after the batch is delivered.
    if (failure !== undefined) {
      process.nextTick(() => {
        throw failure;
      });
    }
  }

  private checkLost(): void {
    for (const entry of this.probes.values()) {
      const n = this.tracer.lost(entry.id);
      if (n > entry.lostSeen) {
        const delta = n - entry.lostSeen;
        entry.lostSeen = n;
        entry.probe.lost += delta;
        entry.probe.emit('lost', delta);
      }
    }
  }

  /** The log2 histogram (HIST_BUCKETS counts) of a probe attached with CFG_HIST. */
  hist(probe: Probe): Float64Array {
    return this.tracer.hist(probe.id);
  }

  resetHist(probe: Probe): void {
    this.tracer.resetHist(probe.id);
  }

  /** The in-kernel counts of a probe attached with CFG_COUNT: 16-byte keys and counts. */
  counts(probe: Probe): { keys: Buffer; values: Float64Array } {
    return this.tracer.counts(probe.id);
  }

  clearCounts(probe: Probe): void {
    this.tracer.clearCounts(probe.id);
  }

  /** Ids of the loaded programs (for inspection and tests). */
  info(): ReturnType<NativeTracer['info']> {
    return this.tracer.info();
  }
}

function envOptions(): Partial<SessionOptions> {
  const out: Partial<SessionOptions> = {};
  const ring = Number(process.env.KPROBE_NODE_RING_BYTES);
  if (ring > 0) out.ringBytes = ring;
  const counts = Number(process.env.KPROBE_NODE_MAX_COUNTS);
  if (counts > 0) out.maxCounts = counts;
  return out;
}
