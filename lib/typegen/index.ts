/** Generated TypeScript declarations: of a BPF object (kprobe-node types obj.bpf.o), of kernel functions' arguments (--kernel). */
export { objectTypes, pascal } from './object';
export type { ObjectTypesOptions } from './object';
export { argTsType, kernelTypes } from './kernel';
export type { KernelTypesOptions } from './kernel';
