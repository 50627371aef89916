/**
 * kprobe-node: dynamic Linux kernel tracing for Node.js.
 *
 *   import { attachSyscall } from 'kprobe-node';
 *   const probe = attachSyscall('openat');
 *   probe.on('event', (ev) => console.log(ev.comm, ev.pid, ev.args.filename));
 *
 * Everything public is named here; the rest of lib/ is internal.
 */
export { attachKprobe, attachKretprobe, attachSyscall, attachTracepoint, attachUprobe, attachUretprobe, configure } from './api';
export type { AggregateConfig, TypedProbe } from './api';
export type { ArgExpression, ArgLabel, ArgType, ArgsOf, KernelFunctionTypes, KernelFunctions, RetOf } from './attach/typed-args';
export { parseTarget } from './attach';
export type { KprobeOptions, ProbeOptions, ProfileTarget, SyscallOptions, Target, UprobeOptions, UprobeTarget } from './attach';
export { Probe } from './core/probe';
export type { ArgInfo, ProbeEvents, ProbeKind } from './core/probe';
export type { ProbeChannels } from './core/channels';
export { EventBatch, TraceEvent } from './core/event';
export type { ArgPlan, FileFrame, Payload } from './core/decode';
export { Counter, Histogram, StackCounter, countBy, countStacks, errorBound, histogram, latency } from './summary';
export type {
  Bucket,
  BucketScale,
  CountEntry,
  CountKey,
  CountOptions,
  CountSnapshot,
  HistogramGroup,
  HistogramOptions,
  HistogramSnapshot,
  StackCount,
  StackCountOptions,
  StackSnapshot,
  SummaryOptions,
  TargetSpec,
} from './summary';
export { MetricSet, MetricsServer, histogramProducer, observeCounts, prometheus, registerPromClient, serveMetrics } from './metrics';
export type { ExponentialHistogramValue, KernelSummary, MetricOptions, MetricReading, MetricSetOptions, OtelCallback, OtelHistogramData, OtelMeter, OtelMetricProducer, PromClientRegistry, ServeOptions } from './metrics';
export type { CounterFamily, ExpositionFormat, HistogramFamily, HistogramSeries, Labels, MetricFamily } from './format/prometheus';
export { Frame, kernelFrames, symbolize, userFrames } from './stacks/symbolize';
export type { FrameDetails, Stacks, SymbolizeOptions } from './stacks/symbolize';
export { demangle } from './stacks/demangle';
export { folded } from './stacks/folded';
export type { FoldableStack } from './stacks/folded';
export { describe, describeTarget } from './inspect/describe';
export type { Description } from './inspect/describe';
export { listFunctions, listProbes, listSyscalls } from './inspect/list';
export type { KernelFunction, ListedProbe } from './inspect/list';
export { listPinned, openPinned, pinProbe, unpin } from './pin';
export { BpfMap, BpfObject, Link, RingBuffer, openObject } from './object';
export type {
  AttachTarget, KeyedMapName, MapKind, MapSpec, MapValue, MapsOfKind, ObjectMaps, ObjectOptions, ObjectSpec, PerCpuKind,
  ProgramInfo, RecordOf, RingBufferEvents, RingBufferOptions, StreamKind, UpdateMode,
} from './object';
export type { PinOptions, PinnedProbeInfo } from './pin';
export type { CgroupSpec } from './sys/cgroups';
export { kernelFeatures } from './sys/features';
export type { KernelFeatures } from './sys/features';
export { syscallFunction } from './sys/arch';
export {
  ConfigError,
  ExpressionError,
  KprobeNodeError,
  NotFoundError,
  OptionError,
  PermissionError,
  SystemError,
  UnsupportedError,
  VerifierError,
} from './errors';
export type { ErrorCode } from './errors';
