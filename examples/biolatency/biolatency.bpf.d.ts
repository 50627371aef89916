// Types of the BPF object biolatency, written by kprobe-node types: do not edit.
// Regenerate with: kprobe-node types dist/examples/biolatency/biolatency.bpf.o -o examples/biolatency/biolatency.bpf.d.ts
//
//   const obj = openObject<BiolatencySpec>('biolatency.bpf.o').load();

/** struct request (16 bytes) */
export type struct_request = {
  dev: number;
  pad: number;
  sector: bigint;
};

/** __u32 (4 bytes) */
export type __u32 = number;

/** __u64 (8 bytes) */
export type __u64 = bigint;

/** struct issued (32 bytes) */
export type struct_issued = {
  ns: bigint;
  proc: struct_proc;
};

/** struct proc (20 bytes) */
export type struct_proc = {
  pid: number;
  comm: string;
};

/** struct hist (232 bytes) */
export type struct_hist = {
  count: bigint;
  total_ns: bigint;
  slots: bigint[];
};

/** struct trace_event_raw_block_rq (16 bytes) */
export type struct_trace_event_raw_block_rq = {
  dev: number;
  sector: bigint;
};

/** struct trace_event_raw_block_rq_completion (24 bytes) */
export type struct_trace_event_raw_block_rq_completion = {
  dev: number;
  sector: bigint;
  error: number;
};

/** struct slow_io (48 bytes) */
export type struct_slow_io = {
  proc: struct_proc;
  dev: number;
  sector: bigint;
  latency_ns: bigint;
  error: number;
};

/** __s32 (4 bytes) */
export type __s32 = number;

export interface BiolatencySpec {
  maps: {
    in_flight: { kind: 'hash'; key: struct_request; value: struct_issued };
    latency: { kind: 'hash'; key: struct_proc; value: struct_hist };
    slow: { kind: 'ringbuf'; key: never; value: never };
  };
  programs: 'on_issue' | 'on_complete';
  rodata: {
    slow_ns: bigint;
  };
  globals: {
    dropped: bigint;
    untracked: bigint;
    unused_slow_io: bigint;
  };
  types: {
    'struct request': struct_request;
    '__u32': __u32;
    '__u64': __u64;
    'struct issued': struct_issued;
    'struct proc': struct_proc;
    'struct hist': struct_hist;
    'struct trace_event_raw_block_rq': struct_trace_event_raw_block_rq;
    'struct trace_event_raw_block_rq_completion': struct_trace_event_raw_block_rq_completion;
    'struct slow_io': struct_slow_io;
    '__s32': __s32;
  };
}
