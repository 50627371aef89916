/**
 * Your own BPF programs: a CO-RE object compiled with clang, loaded through
 * the addon's libbpf, with maps, globals and ring buffers typed from its BTF.
 */
export { BpfObject, openObject } from './object';
export { Link } from './link';
export type { ObjectMaps, ObjectOptions, ProgramInfo } from './object';
export type { AttachTarget } from './attach';
export { BpfMap } from './map';
export type { UpdateMode } from './map';
export { RingBuffer } from './ring';
export type { RingBufferEvents, RingBufferOptions } from './ring';
export { ObjectFile } from './parse';
export type { MapKind, ObjectMap, ObjectProgram, ObjectVariable } from './parse';
export type { KeyedMapName, MapSpec, MapValue, MapsOfKind, ObjectSpec, PerCpuKind, RecordOf, StreamKind } from './spec';
