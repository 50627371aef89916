/**
 * kprobe-node: dynamic Linux kernel tracing for Node.js.
 *
 *   import { attachSyscall } from 'kprobe-node';
 *   const probe = attachSyscall('openat');
 *   probe.on('event', (ev) => console.log(ev.comm, ev.pid, ev.args.filename));
 */
export { attachKprobe, attachKretprobe, attachSyscall, attachTracepoint, syscallFunction } from './attach';
export type { ProbeOptions, SyscallOptions } from './attach';
export { TraceEvent } from './decode';
export { attachUprobe, attachUretprobe } from './uprobe';
export type { UprobeOptions } from './uprobe';
export { Frame, kernelFrames, symbolize, userFrames } from './symbols';
export type { ArgPlan } from './decode';
export { Probe } from './probe';
export type { ArgInfo, ProbeEvents, ProbeKind } from './probe';
export { configure, countBy, histogram, latency, Counter, Histogram } from './aggregate';
export type { AggregateConfig, Bucket, CountEntry, CountKey, CountOptions, CountSnapshot, HistogramSnapshot, SummaryOptions, TargetSpec } from './aggregate';
export { parseTarget } from './target';
export type { Target } from './target';
export { describe } from './describe';
export { listFunctions, listProbes, listSyscalls } from './list';
export type { KernelFunction, ListedProbe } from './list';
export type { Description } from './describe';
export { kernelFeatures } from './features';
export type { KernelFeatures } from './features';
export * from './errors';
export { listPinned, openPinned, pinProbe, unpin } from './pin';
export type { PinOptions, PinnedProbeInfo } from './pin';
