/**
 * The unit tests' kernel: test/fixtures/kernel.c, which `make` compiles and
 * turns into BTF (dist/test/fixtures/kernel.btf), so that they do not depend
 * on the host's /sys/kernel/btf. Offsets are checked against bpftool's
 * reading of the same file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Btf } from '../../lib/btf';
import { BpftoolDump } from './bpftool-dump';

/** This file runs from dist/test/helpers; the Makefile writes dist/test/fixtures. */
export const FIXTURE_BTF = path.join(__dirname, '..', 'fixtures', 'kernel.btf');

let btf: Btf | undefined;

/** The fixture's BTF, loaded once. */
export function fixtureBtf(): Btf {
  if (!btf) {
    if (!fs.existsSync(FIXTURE_BTF)) throw new Error(`${FIXTURE_BTF} is missing: run make, which builds it from test/fixtures/kernel.c`);
    btf = Btf.load(FIXTURE_BTF);
  }
  return btf;
}

/** bpftool's reading of the fixture. */
export function fixtureDump(): BpftoolDump {
  return BpftoolDump.of(FIXTURE_BTF);
}
