/**
 * The typed interface of the addon's BpfObject (native/object.cc): one
 * user-compiled BPF object, its links and its ring/perf buffer readers.
 * lib/object/ validates every argument before it gets here.
 */

export interface NativeMapInfo {
  /** BPF_MAP_TYPE_*. */
  type: number;
  keySize: number;
  valueSize: number;
  /** Bytes of one value as the kernel exchanges it: per-CPU maps hold one (8-byte aligned) per possible CPU. */
  valueBytes: number;
  maxEntries: number;
  flags: number;
}

export interface NativeObjectInfo {
  /** Kernel ids (0 while not loaded). */
  programs: Array<{ name: string; id: number }>;
  maps: Array<{ name: string; id: number }>;
  /** Each link this object holds: its id here, and the kernel's. */
  links: Array<{ link: number; id: number }>;
}

export interface NativeReaderOptions {
  /** How often the buffer is drained when no wake-up came, in ms. */
  drainMs: number;
  /** Most bytes of records per batch. */
  batchBytes: number;
  /** Perf buffers: pages per CPU, a power of two. */
  pages: number;
}

/**
 * Owns one opened (then loaded) object. Map and program names are as libbpf
 * knows them: declared names, and `.rodata`, `.data`, `.bss` for global data.
 */
export interface NativeBpfObject {
  /** A copy of a global data map's initial bytes (before load), or null. */
  initialValue(map: string): Buffer | null;
  /** Replaces them; `bytes` must be exactly the section's size. */
  setInitialValue(map: string, bytes: Buffer): void;
  setMaxEntries(map: string, n: number): void;
  setAutoload(program: string, on: boolean): void;
  /** CO-RE relocation, map creation, verification; throws with libbpf's log. */
  load(): void;

  /** Attaches where the program's section says; returns a link id. */
  attach(program: string): number;
  attachKprobe(program: string, fn: string, retprobe: boolean, offset: number, cookie: bigint): number;
  attachKsyscall(program: string, syscall: string, retprobe: boolean, cookie: bigint): number;
  attachTracepoint(program: string, category: string, name: string, cookie: bigint): number;
  attachRawTracepoint(program: string, name: string): number;
  /** `pid` -1 attaches in every process. */
  attachUprobe(program: string, binary: string, fileOffset: number, retprobe: boolean, pid: number, cookie: bigint): number;
  detach(link: number): void;
  info(): NativeObjectInfo;

  mapInfo(map: string): NativeMapInfo;
  /** The value's bytes (`valueBytes` of them), or null when the key is absent. */
  lookup(map: string, key: Buffer): Buffer | null;
  /** flags: 0 any, 1 only a new key, 2 only an existing key. */
  update(map: string, key: Buffer, value: Buffer, flags: number): void;
  /** Whether the key was there. */
  delete(map: string, key: Buffer): boolean;
  /** The key after `key` (the first for null); null at the end. */
  nextKey(map: string, key: Buffer | null): Buffer | null;
  /** Every entry: keys and values back to back; `batched` says whether the kernel's batch lookup did it. */
  entries(map: string): { keys: Buffer; values: Buffer; count: number; batched: boolean };
  readGlobal(map: string, offset: number, size: number): Buffer;
  writeGlobal(map: string, offset: number, bytes: Buffer): void;

  /**
   * Starts reading a ring buffer or perf event array: `onBatch` gets whole
   * records, each behind an 8-byte header (a u32 length whose top two bits
   * are the ring's busy and discard flags, and a u32 the reader ignores),
   * padded to 8, in the first `length` bytes of `batch` (all of it for a perf
   * buffer). A ring buffer's batches reuse one buffer. `onError`: reading failed.
   */
  openReader(map: string, kind: 'ring' | 'perf', onBatch: (batch: Buffer, length?: number) => void, onError: (e: Error) => void, options: NativeReaderOptions): number;
  closeReader(reader: number): void;
  /** Delivers what is ready now; returns the bytes delivered. */
  drainReader(reader: number): number;
  /** Records a perf buffer's kernel side dropped so far. */
  readerLost(reader: number): number;
  /** Destroys every link and reader and closes every fd; idempotent. */
  close(): void;
}

export interface NativeBpfObjectClass {
  /** Opens (parses) the object; nothing reaches the kernel until load(). */
  new (image: Buffer, name: string): NativeBpfObject;
  /** Values per key of a per-CPU map. */
  possibleCpus(): number;
}
