/**
 * What an object holds, as types: `kprobe-node types obj.bpf.o` writes an
 * ObjectSpec for it, and `openObject<Spec>()` types its maps, programs,
 * globals and records from that. Without one, names are strings and values
 * `unknown`.
 */
import type { MapKind } from './parse';

export type { MapKind } from './parse';

/** One map: its kind, and what its keys and values decode to. */
export interface MapSpec {
  kind: MapKind;
  key: unknown;
  value: unknown;
}

export interface ObjectSpec {
  /** Every map by name, ring buffers and perf event arrays included. */
  maps: { [name: string]: MapSpec };
  /** Program names, as a union of string literals. */
  programs: string;
  /** `const volatile` globals, set before load. */
  rodata: { [name: string]: unknown };
  /** Other globals (.data, .bss), read and written after load. */
  globals: { [name: string]: unknown };
  /** Named types by C name (`struct event`, `enum kind`, `event_t`), for records. */
  types: { [cName: string]: unknown };
}

/** Map kinds with one value per CPU: their values decode to arrays, one element per possible CPU. */
export type PerCpuKind = 'percpu_hash' | 'percpu_array' | 'lru_percpu_hash' | 'percpu_cgroup_storage';

/** Map kinds read as streams of records rather than by key. */
export type StreamKind = 'ringbuf' | 'perf_event_array' | 'user_ringbuf';

/** What a map's values decode to: per-CPU maps give one per possible CPU. */
export type MapValue<M extends MapSpec> = M['kind'] extends PerCpuKind ? Array<M['value']> : M['value'];

/** Names of the maps of `kind` (every name, for an object without generated types). */
export type MapsOfKind<S extends ObjectSpec, K extends MapKind> = string extends keyof S['maps']
  ? string
  : { [N in keyof S['maps']]: S['maps'][N]['kind'] extends K ? N : never }[keyof S['maps']] & string;

/** Names of the maps read by key (not ring buffers or perf event arrays). */
export type KeyedMapName<S extends ObjectSpec> = string extends keyof S['maps']
  ? string
  : { [N in keyof S['maps']]: S['maps'][N]['kind'] extends StreamKind ? never : N }[keyof S['maps']] & string;

/** A record type's decoded value, by its C name; `unknown` for a name the spec does not list. */
export type RecordOf<S extends ObjectSpec, T extends string> = T extends keyof S['types'] ? S['types'][T] : unknown;
