/**
 * A map of a loaded object, typed from the object's BTF: keys and values
 * are plain JavaScript values (lib/btf/values.ts) both ways. Per-CPU maps
 * read and write one value per possible CPU.
 */
import { KprobeNodeError, NotFoundError, OptionError, SystemError } from '../errors';
import type { Codec } from '../btf/values';
import { isNativeError } from '../sys/native';
import type { NativeBpfObject } from '../sys/native-object';
import { toTypedError } from '../sys/errno';
import type { MapKind } from './parse';

/** How set() treats an existing key: 'any' (BPF_ANY), 'create' only a new one (BPF_NOEXIST), 'update' only an existing one (BPF_EXIST). */
export type UpdateMode = 'any' | 'create' | 'update';

const MODES: Record<UpdateMode, number> = { any: 0, create: 1, update: 2 };

/** Kinds whose keys all exist from the start: entries are overwritten, never deleted. */
const ARRAYS = new Set<MapKind>(['array', 'percpu_array', 'perf_event_array', 'prog_array', 'cgroup_array', 'array_of_maps']);

/** How a map reaches its object: the native handle (throws when not loaded, or closed) and the map's size. */
export interface MapOwner {
  handle(what: string): NativeBpfObject;
  maxEntries(map: string): number;
}

export interface MapLayout {
  key: Codec;
  value: Codec;
  /** Values per key: the possible CPUs for a per-CPU map, else 1. */
  cpus: number;
  /** Bytes between two CPUs' values (the value size rounded up to 8). */
  stride: number;
}

export class BpfMap<K = unknown, V = unknown> {
  /** How the last entries() (or keys(), values()) read the map: in batches, or key by key where the kernel has no batch lookup for it. */
  lastRead?: 'batch' | 'iteration';
  #layout?: MapLayout;

  /** @internal Maps come from `object.maps`. */
  constructor(
    private readonly owner: MapOwner,
    /** The map's name in the object. */
    readonly name: string,
    /** `hash`, `array`, `percpu_hash`, `lru_hash`, ... */
    readonly kind: MapKind,
    private readonly layoutOf: () => MapLayout,
  ) {}

  /** The codecs, made on first use (a map whose types cannot be decoded fails only when used). */
  private get layout(): MapLayout {
    return (this.#layout ??= this.layoutOf());
  }

  /** Entries it can hold (as sized before load). */
  get maxEntries(): number {
    return this.owner.maxEntries(this.name);
  }

  /** The C types of its keys and values. */
  get keyType(): string {
    return this.layout.key.type;
  }

  get valueType(): string {
    return this.layout.value.type;
  }

  /** The value at `key`, or undefined when there is none. */
  get(key: K): V | undefined {
    const raw = this.call('look up in', (n) => n.lookup(this.name, this.encodeKey(key)));
    return raw === null ? undefined : this.decodeValue(raw, 0);
  }

  has(key: K): boolean {
    return this.call('look up in', (n) => n.lookup(this.name, this.encodeKey(key))) !== null;
  }

  /** Writes `value` at `key`; with `mode` 'create' the key must be new, with 'update' it must exist. */
  set(key: K, value: V, mode: UpdateMode = 'any'): void {
    if (!(mode in MODES)) throw new OptionError(`set(): mode is 'any', 'create' or 'update', got ${JSON.stringify(mode)}`);
    const k = this.encodeKey(key);
    const v = this.encodeValue(value);
    this.call('update', (n) => n.update(this.name, k, v, MODES[mode]), mode);
  }

  /** Removes `key`; whether it was there. Array maps have every key: set a value instead. */
  delete(key: K): boolean {
    if (ARRAYS.has(this.kind)) throw new OptionError(`map ${this.name} is an ${this.kind}: its keys cannot be deleted; set a value instead`);
    return this.call('delete from', (n) => n.delete(this.name, this.encodeKey(key)));
  }

  /** Every entry, read in batches where the kernel can (BPF_MAP_LOOKUP_BATCH), else key by key. */
  entries(): Array<[K, V]> {
    const e = this.call('read', (n) => n.entries(this.name));
    this.lastRead = e.batched ? 'batch' : 'iteration';
    const ks = this.layout.key.size;
    const vs = this.layout.stride * this.layout.cpus;
    const out: Array<[K, V]> = new Array(e.count);
    for (let i = 0; i < e.count; i++) out[i] = [this.layout.key.decode(e.keys, i * ks) as K, this.decodeValue(e.values, i * vs)];
    return out;
  }

  keys(): K[] {
    return this.entries().map(([k]) => k);
  }

  values(): V[] {
    return this.entries().map(([, v]) => v);
  }

  [Symbol.iterator](): Iterator<[K, V]> {
    return this.entries()[Symbol.iterator]();
  }

  /** Deletes every entry (of a hash map); an array map's values are set to zero. Returns how many there were. */
  clear(): number {
    const keys = this.call('read', (n) => n.entries(this.name));
    const ks = this.layout.key.size;
    const zero = Buffer.alloc(this.layout.stride * this.layout.cpus);
    for (let i = 0; i < keys.count; i++) {
      const k = keys.keys.subarray(i * ks, (i + 1) * ks);
      if (ARRAYS.has(this.kind)) this.call('update', (n) => n.update(this.name, k, zero, 0));
      else this.call('delete from', (n) => n.delete(this.name, k));
    }
    return keys.count;
  }

  private encodeKey(key: K): Buffer {
    const buf = Buffer.alloc(this.layout.key.size);
    this.layout.key.encode(key, buf, 0, `map ${this.name}: key`);
    return buf;
  }

  private encodeValue(value: V): Buffer {
    const { value: codec, cpus, stride } = this.layout;
    const buf = Buffer.alloc(stride * cpus);
    if (cpus === 1) {
      codec.encode(value, buf, 0, `map ${this.name}: value`);
      return buf;
    }
    if (!Array.isArray(value) || value.length > cpus) {
      throw new OptionError(`map ${this.name} is per-CPU: its value is an array of up to ${cpus} values (one per possible CPU)`);
    }
    value.forEach((v, cpu) => codec.encode(v, buf, cpu * stride, `map ${this.name}: value[${cpu}]`));
    return buf;
  }

  private decodeValue(buf: Buffer, at: number): V {
    const { value: codec, cpus, stride } = this.layout;
    if (cpus === 1) return codec.decode(buf, at) as V;
    const out = new Array<unknown>(cpus);
    for (let cpu = 0; cpu < cpus; cpu++) out[cpu] = codec.decode(buf, at + cpu * stride);
    return out as V;
  }

  private call<T>(verb: string, f: (n: NativeBpfObject) => T, mode?: UpdateMode): T {
    const what = `${verb} map ${this.name}`;
    const n = this.owner.handle(what);
    try {
      return f(n);
    } catch (e) {
      if (e instanceof KprobeNodeError || !isNativeError(e)) throw e;
      if (e.code === 'E2BIG') {
        throw new SystemError(`${what}: it is full (${this.maxEntries} entries); size it with openObject(..., { maps: { ${this.name}: { maxEntries } } })`, { errno: e.code });
      }
      if (e.code === 'EEXIST' && mode === 'create') throw new SystemError(`${what}: the key exists already (mode 'create')`, { errno: e.code });
      throw toTypedError(e, what, () => new NotFoundError(`${what}: no such key (mode 'update')`, [], { errno: e.code }));
    }
  }
}
