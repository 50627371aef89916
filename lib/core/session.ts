/**
 * The session: one per process (plus one per pinned probe). It loads the
 * generic BPF object once, owns the ring buffer every probe shares, hands out
 * probe ids (the BPF cookie that selects each probe's config in the kernel)
 * and dispatches batches of records to their probes.
 *
 * It reaches the kernel only through a Backend, so that its logic (ids,
 * dispatch, loss, clean-up after a failed attach) runs in unit tests against
 * a fake one.
 */
import { CFG_KSTACK, CFG_USTACK, COOKIE_GEN_SHIFT, cookieOf, encodeConfig, layout } from '../sys/abi';
import { OptionError, UnsupportedError } from '../errors';
import { toTypedError } from '../sys/errno';
import { checkKernelFloor, checkPrivileges } from '../sys/features';
import { BpfProgram, NativeTracer, TracerOptions, bpfObjectPath, native } from '../sys/native';
import { publishAttach } from './channels';
import { RecordDecoder } from './decode';
import { Delivery, Entry, deliverBatch, emitError, reportLost, rethrowLater } from './dispatch';
import { Probe, ProbeKind, ProbeOwner } from './probe';
import { Reading } from './reading';
import type { AttachSpec } from './spec';

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

/** Bytes of ring records handed over at once: bounds what one drain holds in memory. */
const BATCH_BYTES = 1 << 20;

/** The program each kind of probe runs (kprobes, kretprobes and uprobes: kn_kprobe). */
const PROGRAMS: Partial<Record<ProbeKind, BpfProgram>> = { tracepoint: 'kn_tracepoint', profile: 'kn_perf_event' };

const defaults: SessionOptions = { ringBytes: 8 << 20, drainMs: 10, maxProbes: 1024, maxCounts: 10240 };

/** How a session reaches the kernel: the addon, or a fake in unit tests. */
export interface Backend {
  /** Throws a PermissionError naming what this process lacks to trace. */
  checkPrivileges(): void;
  /** Loads the BPF object (or opens a pinned probe's maps); throws what the addon throws. */
  openTracer(options: TracerOptions): NativeTracer;
}

export const nativeBackend: Backend = {
  checkPrivileges,
  openTracer: (options) => {
    checkKernelFloor();
    return new (native().Tracer)(bpfObjectPath, options);
  },
};

export type { AttachSpec, ProbePart } from './spec';

/**
 * 'normal': the process's shared session. 'pinned': a session of its own for
 * one pinned probe, whose config must stay in place when this process lets
 * go. 'reader': reads a pinned probe's maps from bpffs; it attaches nothing
 * and writes no config.
 */
export type SessionMode = 'normal' | 'pinned' | 'reader';

export class Session implements ProbeOwner {
  private static current?: Session;
  private static pending: Partial<SessionOptions> = {};

  #tracer?: NativeTracer;
  private readonly probes = new Map<number, Entry>();
  /** The same entries by id, for the dispatch loop. */
  private readonly byId: Array<Entry | undefined> = [];
  private readonly freeIds: number[] = [];
  /** Each id's generation (ids are below 1 << COOKIE_GEN_SHIFT), bumped when it is freed: old cookies then name no probe. */
  private readonly gens = new Uint8Array(1 << COOKIE_GEN_SHIFT);
  private nextId = 1; // cookie 0 means "no cookie"
  /**
   * Records are delivered from the ring as they come; losses are looked at
   * after each batch (a record is lost only when the ring is full, so there
   * is a batch to find it by). Nothing runs while no records come.
   */
  private readonly reading = new Reading(
    {
      start: () =>
        this.tracer.start(
          (batch, length) => this.dispatch(batch, length),
          (error) => this.fail(error),
          this.options.drainMs,
          (this.scratch ??= Buffer.allocUnsafeSlow(BATCH_BYTES)),
        ),
      stop: () => this.tracer.stop(),
      ref: (ref) => this.tracer.ref(ref),
    },
    () => this.openProbes(),
  );
  private backgroundDetach = false;
  /** Where the addon copies each batch; reused, so reading costs no allocation per batch. */
  private scratch?: Buffer;
  private readonly mode: SessionMode;
  private readonly pinDir?: string;
  private readonly backend: Backend;

  /** @internal Use Session.get() (or Session.separate()); tests give their own backend. */
  constructor(
    /** The sizes its maps are made with. */
    readonly options: Readonly<SessionOptions>,
    how: { mode?: SessionMode; pinDir?: string; backend?: Backend } = {},
  ) {
    this.mode = how.mode ?? 'normal';
    this.pinDir = how.pinDir;
    this.backend = how.backend ?? nativeBackend;
    this.backend.checkPrivileges();
    // A reader has nothing to attach: it opens the pinned maps now. Otherwise
    // the object loads with the first probe, verifying only the program it needs.
    if (this.mode === 'reader') this.load([]);
  }

  /** The process's session, created on first use. */
  static get(): Session {
    return (Session.current ??= new Session({ ...defaults, ...envOptions(), ...Session.pending }));
  }

  /**
   * Options for the session the first probe creates (they win over the
   * environment). Map sizes are fixed when the BPF object loads, so this
   * fails once the session exists.
   */
  static configure(options: Partial<SessionOptions>): void {
    if (Session.current) throw new OptionError('configure() must come before the first probe: the BPF maps are already loaded');
    Session.pending = { ...Session.pending, ...options };
  }

  /** A session apart from the process's: for one pinned probe, or reading one from `dir`. */
  static separate(mode: 'pinned' | 'reader', dir?: string): Session {
    return new Session({ ...defaults, ...envOptions(), maxProbes: 64 }, { mode, pinDir: dir });
  }

  /**
   * Starts loading the process's session on a native thread, with `program`
   * (what the first probe will most likely need); see preload().
   */
  static preload(program: BpfProgram): void {
    try {
      Session.get().preload(program);
    } catch {
      // Privileges and the like: the first attach reports them.
    }
  }

  /**
   * Starts loading the BPF object on a native thread, with `program`, so that
   * the ~30 ms that libbpf and the kernel's verifier take overlap whatever the
   * caller does next. The first attach waits for it; a failure surfaces there.
   * Does nothing once the object is loaded or loading.
   */
  preload(program: BpfProgram): void {
    if (!this.#tracer) this.load([program], true);
  }

  private load(programs: BpfProgram[], background = false): NativeTracer {
    try {
      this.#tracer = this.backend.openTracer({
        background,
        maxProbes: this.options.maxProbes,
        ringBytes: this.options.ringBytes,
        wakeupBytes: this.options.ringBytes / 4,
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

  /** Waits for a preloaded tracer; a failed load is reported as loading errors are, and forgotten. */
  private ready(): void {
    try {
      this.#tracer?.ready();
    } catch (e) {
      this.#tracer = undefined;
      throw toTypedError(e, 'load the BPF programs');
    }
  }

  /** Bytes of the ring buffer its probes share. */
  get ringBytes(): number {
    return this.options.ringBytes;
  }

  /** Pins this session's maps and links under `dir` (a 'pinned' session). */
  pin(dir: string): void {
    try {
      this.tracer.pin(dir);
    } catch (e) {
      throw toTypedError(e, `pin under ${dir}`);
    }
  }

  /** Attaches a new probe; on any failure nothing stays attached and every id goes back. */
  attach(spec: AttachSpec): Probe {
    const { parts } = spec;
    this.ready();
    if (!this.#tracer) this.load([PROGRAMS[spec.kind] ?? 'kn_kprobe']);
    const ids = this.allocateIds(parts.length);
    const probe = new Probe(this, ids[0], spec.name, spec.kind, spec.strategy, parts[0].plans, spec.warnings ?? []);
    const delivery: Delivery = { probe, offsets: new Int32Array(256), decoders: [], count: 0 };
    const entries: Entry[] = parts.map((part, i) => {
      const flags = part.config.flags ?? 0;
      const stacks = { kernel: (flags & CFG_KSTACK) !== 0, user: (flags & CFG_USTACK) !== 0 };
      const decoder = new RecordDecoder(part.name, part.plans, stacks);
      return { id: ids[i], key: part.key ?? part.name, probe, decoder, links: [], lostSeen: this.tracer.lost(ids[i]), group: ids, delivery };
    });
    try {
      for (const [i, entry] of entries.entries()) {
        // A reader only decodes: the pinned config is already in the kernel.
        if (this.mode !== 'reader') {
          if (parts[i].config.cgroup !== undefined) this.tracer.setCgroup(entry.id, parts[i].config.cgroup);
          this.tracer.setConfig(entry.id, encodeConfig({ ...parts[i].config, gen: this.gens[entry.id], args: parts[i].plans.map((p) => p.fetch) }));
        }
        this.probes.set(entry.id, entry);
        this.byId[entry.id] = entry;
      }
      if (this.mode !== 'reader') entries[0].links.push(...spec.attach(this.tracer, ids.map((id) => cookieOf(id, this.gens[id]))));
    } catch (e) {
      for (const entry of entries) this.release(entry);
      throw toTypedError(e, spec.describe, spec.notFound);
    }
    this.reading.update();
    publishAttach(probe);
    return probe;
  }

  /** `count` free probe ids; UnsupportedError when the config map has no room for them. */
  private allocateIds(count: number): number[] {
    const ids: number[] = [];
    while (ids.length < count) {
      const id = this.freeIds.pop() ?? this.nextId++;
      if (id >= this.options.maxProbes) {
        // Only a fresh id can be out of range: give it and the others back.
        this.nextId--;
        this.freeIds.push(...ids);
        const what = count > 1 ? `${count} functions need as many probes: ` : '';
        throw new UnsupportedError('probes', `${what}at most ${this.options.maxProbes - 1} probes can be open at once (configure({ maxProbes }) raises it)`);
      }
      ids.push(id);
    }
    return ids;
  }

  close(probe: Probe): void {
    const entries = this.entriesOf(probe);
    if (!entries.length) return;
    const links = entries.flatMap((e) => e.links);
    // A pattern's links go to a kernel worker (a release waits ~40 ms, serialised); their late hits are ignored (gens).
    if ((this.backgroundDetach || links.length > 1) && this.tracer.handOff(links)) {
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
      // The kernel lets go of the probe's cgroup; a reused id must start from zero.
      this.tracer.setCgroup(entry.id, null);
      this.tracer.resetHist(entry.id);
      this.tracer.clearCounts([entry.id]);
      this.tracer.clearStackCounts(entry.id);
    }
    this.probes.delete(entry.id);
    this.byId[entry.id] = undefined;
    this.gens[entry.id]++;
    this.freeIds.push(entry.id);
    this.reading.forget(entry.probe);
    if (this.probes.size === 0) {
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

  private openProbes(): Set<Probe> {
    return new Set([...this.probes.values()].map((e) => e.probe));
  }

  /** Holds the ring's reading while `probe`'s consumer cannot keep up (Probe.pause()). */
  setPaused(probe: Probe, paused: boolean): void {
    this.reading.setPaused(probe, paused);
  }

  /** Whether `probe` keeps the process alive; the event loop is held while any open probe does. */
  setRef(probe: Probe, ref: boolean): void {
    this.reading.setRef(probe, ref);
  }

  /** A failure of the ring buffer's reading: every open probe's `error` event (thrown where nobody listens, as by any emitter). */
  private fail(error: unknown): void {
    rethrowLater(emitError(this.openProbes(), toTypedError(error, 'read the ring buffer')));
  }

  /** One batch from the ring buffer, to its probes; then the loss counters. */
  private dispatch(batch: Buffer, length: number): void {
    const failure = deliverBatch(batch, length, this.byId);
    this.checkLost();
    rethrowLater(failure);
  }

  private checkLost(): void {
    rethrowLater(reportLost(this.probes.values(), (id) => this.tracer.lost(id)));
  }

  /** A probe's parts: one, or one per function or tracepoint of a pattern, each with its id, its key and the name its events carry. */
  parts(probe: Probe): Array<{ id: number; key: string; name: string }> {
    return this.entriesOf(probe).map((e) => ({ id: e.id, key: e.key, name: e.decoder.probe }));
  }

  /** The entries of an open probe's parts. */
  private entriesOf(probe: Probe): Entry[] {
    const first = this.probes.get(probe.id);
    return first?.probe === probe ? first.group.map((id) => this.probes.get(id)).filter((e): e is Entry => e?.probe === probe) : [];
  }

  /** The log2 histogram (HIST_BUCKETS counts) of a probe attached with CFG_HIST, or of one of its parts. */
  hist(probe: Probe, part = probe.id): Float64Array {
    return this.tracer.hist(part);
  }

  /** The kernel's sum of the values in that histogram (or that part's), as a u64. */
  histSum(probe: Probe, part = probe.id): bigint {
    return this.tracer.histSum(part);
  }

  resetHist(probe: Probe): void {
    for (const { id } of this.parts(probe)) this.tracer.resetHist(id);
  }

  /** The in-kernel counts of every part of a probe attached with CFG_COUNT: whole struct kn_count_key keys and counts. */
  counts(probe: Probe): { keys: Buffer; values: Float64Array } {
    return this.tracer.counts(this.parts(probe).map((p) => p.id));
  }

  clearCounts(probe: Probe): void {
    this.tracer.clearCounts(this.parts(probe).map((p) => p.id));
  }

  /** In-kernel stack counting (lib/summary/stacks.ts counts the users of the stack maps): the stack maps, a CFG_STACKS probe's counts and stacks. */
  stackMaps(): Pick<NativeTracer, 'createStackMaps' | 'dropStackMaps' | 'stackCounts' | 'stackTraces' | 'clearStackCounts'> {
    return this.tracer;
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
