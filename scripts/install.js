#!/usr/bin/env node
// npm install hook. With a prebuilt addon for this machine (prebuilds/) it does
// nothing; without one it builds the addon from source (node-gyp-build), and if
// that fails it says exactly what to install. In a source checkout the addon is
// built by `make` (with the static libbpf), so this does nothing there.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');

if (fs.existsSync(path.join(root, 'Makefile')) && fs.existsSync(path.join(root, 'lib', 'sys', 'native.ts'))) {
  console.log('kprobe-node: source checkout; `make` builds the addon');
  process.exit(0);
}

if (process.platform !== 'linux') {
  // Installs (e.g. as a dependency of a cross-platform project) but cannot run.
  console.warn(`kprobe-node: traces the Linux kernel; nothing to build on ${process.platform}`);
  process.exit(0);
}

// The BPF programs know the registers of the architectures in lib/arch.ts
// only. Elsewhere the package installs, and its first use says why it cannot run.
const { ARCHES } = require('../dist/lib/sys/arch.js');
if (!Object.prototype.hasOwnProperty.call(ARCHES, process.arch)) {
  console.warn(`kprobe-node: supports ${Object.keys(ARCHES).join(' and ')} only; nothing to build on ${process.arch}`);
  process.exit(0);
}

const bin = require.resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { cwd: root, stdio: 'inherit' });
if (r.status === 0) process.exit(0);

const libc = (() => {
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return 'unknown libc';
  }
})();
const target = `${process.platform}-${process.arch} (${libc}), Node ${process.version} (ABI ${process.versions.modules}, N-API ${process.versions.napi})`;
console.error(
  [
    '',
    `kprobe-node: no prebuilt addon for ${target}, and building it failed;`,
    'install: a C++ compiler, make, python3 and the development files of libbpf (>= 1.0), libelf and zlib',
    '  Debian/Ubuntu: apt-get install g++ make python3 libbpf-dev libelf-dev zlib1g-dev',
    '  Fedora/RHEL:   dnf install gcc-c++ make python3 libbpf-devel elfutils-libelf-devel zlib-devel',
    '  Alpine:        apk add g++ make python3 libbpf-dev elfutils-dev zlib-dev linux-headers',
    'then: npm rebuild kprobe-node',
    '',
  ].join('\n'),
);
process.exit(r.status || 1);
