/**
 * A BPF object the user compiled (clang -g -O2 -target bpf), loaded through
 * the addon's libbpf: open it, set its `const volatile` globals and map
 * sizes, load it, attach its programs, read its maps, globals and ring
 * buffers as typed values.
 *
 *   const obj = openObject<CountsSpec>('counts.bpf.o', { rodata: { target_pid: 42 } }).load();
 *   obj.attach('handle_exec');
 *   obj.maps.counts.get({ pid: 42 });
 *
 * The object owns everything made from it: closing it detaches its links,
 * stops its ring buffers and frees its maps. An object stays open until it
 * is closed, or the process exits or is killed (the kernel then drops what
 * its fds held).
 */
import { checkSignal } from '../attach/options';
import { NotFoundError, OptionError } from '../errors';
import { Codec, bytesCodec, codecFor } from '../btf/values';
import { asyncDispose, dispose } from '../core/iterate';
import { toTypedError } from '../sys/errno';
import { checkPrivileges } from '../sys/features';
import { closest } from '../sys/names';
import { native } from '../sys/native';
import type { NativeBpfObject } from '../sys/native-object';
import { AttachTarget, attachAt, attachBySection } from './attach';
import { DataAccess, readVariable, variableView } from './globals';
import { Link } from './link';
import { BpfMap, MapLayout } from './map';
import { ObjectFile, ObjectMap, PER_CPU } from './parse';
import { RingBuffer, RingBufferOptions } from './ring';
import type { KeyedMapName, MapValue, MapsOfKind, ObjectSpec, RecordOf } from './spec';

export interface ObjectOptions<S extends ObjectSpec = ObjectSpec> {
  /** Values of `const volatile` globals, written into .rodata before load; checked against their types. */
  rodata?: Partial<S['rodata']>;
  /** Map sizes, set before load: `{ counts: { maxEntries: 65536 } }`. */
  maps?: { [M in keyof S['maps']]?: { maxEntries?: number } };
  /** Programs to leave unloaded (their hook is missing on this kernel, say): `{ on_fentry: false }`. */
  autoload?: { [P in S['programs']]?: boolean };
  /** The object's name for libbpf (it prefixes the kernel's names of .rodata, .bss, ...); default: the file's name, or `object`. */
  name?: string;
  /** Closes the object (its links, ring buffers, programs and maps) when the signal aborts; an aborted signal throws its reason and opens nothing. */
  signal?: AbortSignal;
}

/** A program of the object: its name, section, and where the section says it attaches. */
export interface ProgramInfo {
  name: string;
  section: string;
  /** `kprobe`, `tracepoint`, `uprobe`, ..., `btf` (fentry, tp_btf, lsm, ...), `other`. */
  kind: string;
  /** What the section names (`vfs_read`, `sched:sched_switch`), if anything. */
  target?: string;
}

/** The maps read by key, typed by the spec. */
export type ObjectMaps<S extends ObjectSpec> = {
  [N in KeyedMapName<S>]: BpfMap<S['maps'][N]['key'], MapValue<S['maps'][N]>>;
};

type TypeName<S extends ObjectSpec> = string extends keyof S['types'] ? string : keyof S['types'] & string;

/** Objects open in this process: held until closed, so that collecting a forgotten one never detaches its programs. */
const openObjects = new Set<BpfObject<ObjectSpec>>();

export class BpfObject<S extends ObjectSpec = ObjectSpec> {
  /** Keyed maps by name (every map but ring buffers and perf event arrays), usable once loaded. */
  readonly maps: ObjectMaps<S>;
  /** The .data and .bss globals by name: read and written in place once loaded, their initial values before. */
  readonly globals: S['globals'];
  /** The `const volatile` globals by name: writable until load, read-only after. */
  readonly rodata: S['rodata'];
  #state: 'opened' | 'loaded' | 'closed' = 'opened';
  /** Forgets the abort listener of `{ signal }`, when there is one. */
  #unlisten?: () => void;
  #native: NativeBpfObject;
  readonly #links = new Map<number, Link>();
  readonly #rings = new Set<RingBuffer>();
  readonly #data: DataAccess;

  /** @internal Use openObject(). */
  constructor(
    /** The parsed object: its programs, maps, variables and BTF. */
    private readonly file: ObjectFile,
    handle: NativeBpfObject,
    opts: ObjectOptions<S> = {},
  ) {
    this.#native = handle;
    this.maps = this.makeMaps();
    const data: DataAccess = { object: file.name, handle, state: () => this.#state };
    this.#data = data;
    this.globals = variableView(file, (v) => !v.readonly, data) as S['globals'];
    this.rodata = variableView(file, (v) => v.readonly, data) as S['rodata'];
    openObjects.add(this as unknown as BpfObject<ObjectSpec>);
    try {
      this.configure(opts);
    } catch (e) {
      this.close();
      throw e;
    }
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** The object's name (its file's, without `.bpf.o`). */
  get name(): string {
    return this.file.name;
  }

  /** `opened` (configurable), `loaded` (attachable, readable) or `closed`. */
  get state(): 'opened' | 'loaded' | 'closed' {
    return this.#state;
  }

  /** Its programs, with what their sections say. */
  get programs(): ProgramInfo[] {
    return this.file.programs.map((p) => ({ name: p.name, section: p.section, kind: p.attach.kind, ...(p.attach.target ? { target: p.attach.target } : {}) }));
  }

  /**
   * Loads it: CO-RE relocation against the running kernel, maps created,
   * programs verified. A verifier rejection is a VerifierError (the log on
   * `.log`); a field or type this kernel lacks is an UnsupportedError naming it.
   */
  load(): this {
    if (this.#state === 'loaded') return this;
    this.handle('load', 'opened');
    checkPrivileges();
    try {
      this.#native.load();
    } catch (e) {
      // libbpf cannot load an object twice: this one is spent.
      this.close();
      throw toTypedError(e, `load ${this.name}`);
    }
    this.#state = 'loaded';
    return this;
  }

  /**
   * Attaches `program`: where its section says (SEC("kprobe/vfs_read")),
   * or at `target` ({ kprobe: 'vfs_read' }, { tracepoint: 'sched:sched_switch' },
   * { uprobe: 'libc', symbol: 'malloc' }, ...).
   */
  attach(program: S['programs'], target?: AttachTarget): Link {
    const n = this.handle(`attach ${String(program)}`);
    const p = this.file.program(program);
    if (!p) throw this.noProgram(program);
    if (!this.loadedProgram(p.name)) throw new OptionError(`attach ${p.name}: the program was not loaded (autoload: false)`);
    const plan = target === undefined ? attachBySection(n, p) : attachAt(n, p, target);
    let native: number;
    try {
      native = plan.attach();
    } catch (e) {
      throw toTypedError(e, `attach ${p.name} (${plan.target})`, plan.notFound);
    }
    const link = new Link(this, native, p.name, plan.target);
    this.#links.set(native, link);
    return link;
  }

  /** Attaches every loaded program whose section names its target (as a skeleton's attach does). */
  attachAll(): Link[] {
    const links: Link[] = [];
    try {
      for (const p of this.file.programs) {
        if (p.attach.auto && this.loadedProgram(p.name)) links.push(this.attach(p.name));
      }
    } catch (e) {
      for (const l of links) l.close();
      throw e;
    }
    return links;
  }

  /**
   * Reads a BPF_MAP_TYPE_RINGBUF: each record decoded as `type` (its C name,
   * `struct event`), delivered in batches. Records are matched by size: a
   * record shorter than the type is an error.
   */
  ringBuffer<T extends TypeName<S>>(map: MapsOfKind<S, 'ringbuf'>, type: T, opts: RingBufferOptions = {}): RingBuffer<RecordOf<S, T>> {
    return this.reader(map, 'ringbuf', type, opts) as RingBuffer<RecordOf<S, T>>;
  }

  /** Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY the same way (the kernel counts what it drops). */
  perfBuffer<T extends TypeName<S>>(map: MapsOfKind<S, 'perf_event_array'>, type: T, opts: RingBufferOptions = {}): RingBuffer<RecordOf<S, T>> {
    return this.reader(map, 'perf_event_array', type, opts) as RingBuffer<RecordOf<S, T>>;
  }

  /** The kernel's ids of its programs, maps and links (for bpftool and tests). */
  info(): { programs: Array<{ name: string; id: number }>; maps: Array<{ name: string; id: number }>; links: Array<{ link: number; id: number }> } {
    return this.#native.info();
  }

  /** Stops its ring buffers, detaches its links and frees everything. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    for (const ring of this.#rings) ring.close();
    this.#state = 'closed';
    this.#native.close();
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    openObjects.delete(this as unknown as BpfObject<ObjectSpec>);
    this.#unlisten?.();
  }

  [dispose](): void {
    this.close();
  }

  async [asyncDispose](): Promise<void> {
    this.close();
  }

  /** @internal A link closing itself. */
  detach(native: number, link: Link): void {
    if (this.#links.get(native) !== link) return;
    this.#links.delete(native);
    if (this.#state !== 'closed') this.#native.detach(native);
  }

  /** The native handle for `what`, in the state it needs (loaded, unless said otherwise). */
  private handle(what: string, state: 'opened' | 'loaded' = 'loaded'): NativeBpfObject {
    if (this.#state === 'closed') throw new OptionError(`${what}: the object ${this.name} is closed`);
    if (this.#state !== state) throw new OptionError(state === 'loaded' ? `${what}: load() the object ${this.name} first` : `${what}: the object ${this.name} is loaded already`);
    return this.#native;
  }

  private loadedProgram(name: string): boolean {
    return (this.#native.info().programs.find((p) => p.name === name)?.id ?? 0) !== 0;
  }

  private noProgram(name: string): NotFoundError {
    const names = this.file.programs.map((p) => p.name);
    return new NotFoundError(`${this.name} has no program ${String(name)} (it has ${names.join(', ') || 'none'})`, closest(String(name), names));
  }

  private makeMaps(): ObjectMaps<S> {
    const maps: Record<string, BpfMap> = {};
    for (const m of this.file.maps) {
      if (m.internal || ['ringbuf', 'user_ringbuf', 'perf_event_array'].includes(m.kind)) continue;
      const owner = { handle: (what: string) => this.handle(what), maxEntries: (name: string) => this.#native.mapInfo(name).maxEntries };
      maps[m.name] = new BpfMap(owner, m.name, m.kind, () => this.layout(m));
    }
    return maps as ObjectMaps<S>;
  }

  private layout(m: ObjectMap): MapLayout {
    const btf = this.file.btf;
    const cpus = PER_CPU.has(m.kind) ? native().BpfObject.possibleCpus() : 1;
    return {
      key: m.keyType !== undefined ? codecFor(btf, m.keyType) : bytesCodec(m.keySize),
      value: m.valueType !== undefined ? codecFor(btf, m.valueType) : bytesCodec(m.valueSize),
      cpus,
      stride: cpus === 1 ? m.valueSize : (m.valueSize + 7) & ~7,
    };
  }

  /** Applies openObject's options: map sizes, autoload, rodata. */
  private configure(opts: ObjectOptions<S>): void {
    for (const [name, size] of Object.entries(opts.maps ?? {}) as Array<[string, { maxEntries?: number } | undefined]>) {
      const m = this.file.map(name);
      if (!m || m.internal) {
        const names = this.file.maps.filter((x) => !x.internal).map((x) => x.name);
        throw new NotFoundError(`${this.name} has no map ${name} (it has ${names.join(', ') || 'none'})`, closest(name, names));
      }
      const n = size?.maxEntries;
      if (n === undefined) continue;
      if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new OptionError(`maps.${name}.maxEntries must be a positive integer, got ${String(n)}`);
      if (m.kind === 'ringbuf' && (n < 4096 || (n & (n - 1)) !== 0)) throw new OptionError(`maps.${name}.maxEntries of a ring buffer is its size in bytes: a power of two of at least 4096, got ${n}`);
      this.#native.setMaxEntries(name, n);
    }
    for (const [name, on] of Object.entries(opts.autoload ?? {})) {
      if (!this.file.program(name)) throw this.noProgram(name);
      if (on !== undefined) this.#native.setAutoload(name, on === true);
    }
    for (const [name, value] of Object.entries(opts.rodata ?? {})) {
      const v = this.file.variables.find((x) => x.name === name);
      if (!v || !v.readonly) {
        const consts = this.file.variables.filter((x) => x.readonly).map((x) => x.name);
        const why = v ? `${name} is not const volatile (it is in ${v.section}): set it through globals` : `${this.name} has no const volatile global ${name}`;
        throw new NotFoundError(`${why} (its const volatile globals: ${consts.join(', ') || 'none'})`, v ? [] : closest(name, consts));
      }
      (this.rodata as Record<string, unknown>)[name] = value;
    }
  }

  private reader(map: string, kind: 'ringbuf' | 'perf_event_array', type: string, opts: RingBufferOptions): RingBuffer {
    const what = kind === 'ringbuf' ? 'ringBuffer' : 'perfBuffer';
    const n = this.handle(`${what}(${JSON.stringify(map)})`);
    const m = this.file.map(map);
    if (!m || m.kind !== kind) {
      const names = this.file.maps.filter((x) => x.kind === kind).map((x) => x.name);
      const why = m ? `map ${map} is a ${m.kind}, not a ${kind}` : `${this.name} has no map ${map}`;
      throw new NotFoundError(`${what}: ${why} (its ${kind} maps: ${names.join(', ') || 'none'})`, m ? [] : closest(map, names));
    }
    const codec = this.recordCodec(type);
    const drainMs = opts.drainMs ?? 10;
    if (!Number.isInteger(drainMs) || drainMs < 1 || drainMs > 60000) throw new OptionError(`drainMs must be an integer from 1 to 60000, got ${String(drainMs)}`);
    const pages = opts.pages ?? 64;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) throw new OptionError(`pages must be a power of two, got ${String(pages)}`);
    const counted = kind === 'ringbuf' ? this.lostCounter(opts.lost) : undefined;
    const ring = new RingBuffer(
      {
        open: (onBatch, onError) => {
          try {
            return n.openReader(map, kind === 'ringbuf' ? 'ring' : 'perf', onBatch, onError, { drainMs, batchBytes: 1 << 20, pages });
          } catch (e) {
            throw toTypedError(e, `read ${kind} ${map}`);
          }
        },
        drain: (id) => void n.drainReader(id),
        close: (id) => {
          n.closeReader(id);
          this.#rings.delete(ring);
        },
        lostSoFar: (id) => (this.#state === 'closed' ? 0 : counted ? counted() : n.readerLost(id)),
      },
      map,
      kind,
      codec,
    );
    this.#rings.add(ring);
    return ring;
  }

  /** The codec of a record type, by C name. */
  private recordCodec(type: string): Codec {
    if (typeof type !== 'string') throw new OptionError('a record type is a C type name, such as "struct event"');
    const id = this.file.findType(type);
    if (id === undefined) {
      const names = this.file.typeNames();
      throw new NotFoundError(
        `${this.name} has no type ${type} in its BTF (clang keeps only the types its globals, maps and functions use; ` +
          `a record type used only through a pointer can be kept with a global such as: ${type} *unused_${type.replace(/\W+/g, '_')} __attribute__((unused));)`,
        closest(type, names),
      );
    }
    return codecFor(this.file.btf, id);
  }

  /** How to read the program's own count of dropped records: a global integer, or a map whose values are summed. */
  private lostCounter(name: string | undefined): (() => number) | undefined {
    if (name === undefined) return undefined;
    const v = this.file.variables.find((x) => x.name === name);
    if (v) {
      const codec = codecFor(this.file.btf, v.type);
      if (codec.shape.k !== 'int') throw new OptionError(`lost: ${name} is a ${codec.type}, not an integer counter`);
      return () => Number(readVariable(this.#data, v, codec));
    }
    const map = (this.maps as Record<string, BpfMap>)[name];
    if (map) {
      const sum = (x: unknown): number => (Array.isArray(x) ? x.reduce((a: number, y) => a + sum(y), 0) : typeof x === 'number' || typeof x === 'bigint' ? Number(x) : 0);
      return () => map.values().reduce((a: number, x) => a + sum(x), 0);
    }
    const names = [...this.file.variables.filter((x) => !x.readonly).map((x) => x.name), ...Object.keys(this.maps)];
    throw new NotFoundError(`lost: ${this.name} has no global or map ${name}`, closest(name, names));
  }
}

/**
 * Opens a BPF object compiled with `clang -g -O2 -target bpf`: a path, or
 * its bytes. Options set its `const volatile` globals and map sizes, which
 * are fixed at load; then call `load()`. `S` is the object's spec, as
 * `kprobe-node types` writes it, which types maps, programs, globals and records.
 */
export function openObject<S extends ObjectSpec = ObjectSpec>(source: string | Buffer, opts: ObjectOptions<S> = {}): BpfObject<S> {
  if (typeof opts !== 'object' || opts === null) throw new OptionError('openObject options must be an object');
  if (opts.name !== undefined && (typeof opts.name !== 'string' || !/^[\w.-]{1,64}$/.test(opts.name))) {
    throw new OptionError(`name must be a short word (letters, digits, _ . -), got ${JSON.stringify(opts.name)}`);
  }
  checkSignal(opts.signal)?.throwIfAborted();
  let file: ObjectFile;
  if (typeof source === 'string') file = ObjectFile.read(source);
  else if (Buffer.isBuffer(source)) file = ObjectFile.parse(source, opts.name ?? 'object');
  else throw new OptionError('openObject takes a path or a Buffer holding the object');
  let handle: NativeBpfObject;
  try {
    handle = new (native().BpfObject)(file.image, opts.name ?? file.name);
  } catch (e) {
    throw toTypedError(e, `open ${file.name}`);
  }
  return new BpfObject<S>(file, handle, opts);
}
