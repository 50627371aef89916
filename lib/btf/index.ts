/** BTF: the kernel's type information, read from /sys/kernel/btf. */
export { Kind, BTF_MAGIC } from './format';
export {
  Btf,
  SYSFS_BTF,
  type BtfArray,
  type BtfComposite,
  type BtfDatasec,
  type BtfDeclTag,
  type BtfEnum,
  type BtfEnumValue,
  type BtfFloat,
  type BtfFunc,
  type BtfFuncProto,
  type BtfFunction,
  type BtfFwd,
  type BtfInt,
  type BtfMember,
  type BtfParam,
  type BtfRef,
  type BtfType,
  type BtfVar,
  type BtfVoid,
  type LoadOptions,
} from './reader';
export { findMember, memberNames, members, prototype, resolve, sizeOf, skipModifiers, typeToString } from './types';
