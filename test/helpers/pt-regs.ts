/**
 * The kernel's `struct pt_regs` (and arm64's `struct user_pt_regs`) as BTF
 * describes it, flattened through anonymous members. test/fixtures/pt_regs.json
 * keeps these layouts for Debian's x86-64 and arm64 kernels; this file also
 * writes that fixture, from the kernel images scripts/vmtest caches:
 *
 *   node dist/test/helpers/pt-regs.js \
 *     x64 .cache/vm/kernels/<ver>-amd64/boot/vmlinux-<ver>-amd64 \
 *     arm64 .cache/vm/arm64/kernels/<ver>-arm64/boot/vmlinuz-<ver>-arm64 > test/fixtures/pt_regs.json
 */
import * as fs from 'fs';
import * as path from 'path';
import { Btf, BtfComposite, Kind } from '../../lib/btf';

export interface RegsMember {
  name: string;
  offset: number;
  size: number;
  /** Arrays: the size of one element. */
  elemSize?: number;
}

/** struct name -> its members, anonymous structs and unions flattened into it. */
export type RegsLayout = Record<string, RegsMember[]>;

export interface KernelRegs {
  arch: string;
  /** The kernel the layout was read from (uname -r). */
  release: string;
  structs: RegsLayout;
}

const STRUCTS = ['pt_regs', 'user_pt_regs'];

function flatten(btf: Btf, id: number, base: number, out: RegsMember[]): void {
  const t = btf.type(btf.resolve(id)) as BtfComposite;
  for (const m of t.members) {
    const offset = base + m.bitOffset / 8;
    const type = btf.type(btf.resolve(m.type));
    if (!m.name && (type.kind === Kind.Struct || type.kind === Kind.Union)) {
      flatten(btf, m.type, offset, out);
      continue;
    }
    const member: RegsMember = { name: m.name, offset, size: btf.sizeOf(m.type) };
    if (type.kind === Kind.Array) member.elemSize = btf.sizeOf(type.type);
    out.push(member);
  }
}

/** The register structs this BTF has (user_pt_regs exists on arm64 only). */
export function regsLayout(btf: Btf): RegsLayout {
  const out: RegsLayout = {};
  for (const name of STRUCTS) {
    const id = btf.findStruct(name);
    if (id === null) continue;
    const members: RegsMember[] = [];
    flatten(btf, id, 0, members);
    out[name] = members;
  }
  return out;
}

/** The byte offset of `regs[3]`, `sp` ... in a flattened struct; undefined when there is no such member. */
export function memberOffset(members: RegsMember[], member: string): number | undefined {
  const m = /^(\w+)(?:\[(\d+)\])?$/.exec(member);
  if (!m) return undefined;
  const found = members.find((x) => x.name === m[1]);
  if (!found) return undefined;
  if (m[2] === undefined) return found.elemSize === undefined ? found.offset : undefined;
  const i = Number(m[2]);
  if (found.elemSize === undefined || (i + 1) * found.elemSize > found.size) return undefined;
  return found.offset + i * found.elemSize;
}

/**
 * The kernel's BTF out of its image (an ELF vmlinux, or arm64's uncompressed
 * Image): a blob that starts with a BTF header, laid out as pahole writes it
 * (types, then strings ending in a NUL), that parses and has struct pt_regs.
 */
export function btfFromKernelImage(image: Buffer): Buffer {
  // magic 0xeb9f, version 1, flags 0, hdr_len 24 (little-endian)
  const header = Buffer.from([0x9f, 0xeb, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00]);
  for (let at = image.indexOf(header); at >= 0; at = image.indexOf(header, at + 1)) {
    const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => image.readUInt32LE(at + o));
    const end = at + 24 + strOff + strLen;
    if (typeOff !== 0 || strOff !== typeLen || end > image.length || image[end - 1] !== 0) continue;
    const blob = image.subarray(at, end);
    try {
      if (Btf.fromBuffer(blob).findStruct('pt_regs') !== null) return blob;
    } catch {
      // not BTF after all: keep looking
    }
  }
  throw new Error('no BTF with struct pt_regs in the image');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.length % 2 !== 0) {
    console.error('usage: pt-regs.js (<arch> <vmlinux or arm64 vmlinuz>)...');
    process.exit(2);
  }
  const out: KernelRegs[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [arch, image] = args.slice(i, i + 2);
    const btf = Btf.fromBuffer(btfFromKernelImage(fs.readFileSync(image)));
    out.push({ arch, release: path.basename(image).replace(/^vmlinu[xz]-/, ''), structs: regsLayout(btf) });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}
