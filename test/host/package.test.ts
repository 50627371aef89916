/**
 * The npm package as users get it: `npm pack` (what make built), installed
 * offline, with an empty npm cache, into an empty project where no compiler,
 * no libbpf/libelf headers or shared libraries and no build tools can be found.
 * The dependencies come from this checkout's node_modules, packed into
 * tarballs that the test project pins with npm "overrides": nothing is asked
 * of the registry, and nothing is taken from a cache that earlier commands
 * may have warmed. Those are hidden in a
 * private mount namespace (unshare), so the system is never changed: clang,
 * gcc, make and python3 become empty files there, as do libbpf.so and libelf.so.
 * Then: the addon must be the prebuilt one, linking no libbpf; the installed
 * CLI traces a tracepoint; a strict TypeScript program compiles against the
 * shipped typings and runs.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeHost, repoRoot } from '../helpers/host';

jest.setTimeout(240000);

const COMM = 'kn_pkg_sync'; // a copy of sync under this name: only its events count
/** The architectures the package ships a BPF object and a prebuilt addon for. */
const ARCHES = ['x64', 'arm64'] as const;
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  types: string;
  main: string;
  exports: Record<string, Record<string, string> | string>;
};

// Hides the build-time dependencies in this mount namespace only.
const HIDE = `
hide() { mount --bind /dev/null "$(readlink -f "$1")" || exit 97; }
for d in /usr/include/bpf /usr/local/include/bpf; do
  if [ -d "$d" ]; then mount -t tmpfs -o ro none "$d" || exit 97; fi
done
for f in /usr/lib/*/libbpf.so* /usr/lib/*/libelf.so* /usr/lib/*/libelf-*.so /usr/lib64/libbpf.so* /usr/lib64/libelf*.so*; do
  if [ -f "$f" ]; then hide "$f"; fi
done
for t in clang clang-14 gcc g++ cc c++ make python3 pkg-config; do
  for p in $(command -v "$t") /usr/bin/$t /usr/local/bin/$t; do
    if [ -e "$p" ]; then hide "$p"; fi
  done
done
unset LD_LIBRARY_PATH CPATH C_INCLUDE_PATH LIBRARY_PATH
`;

describeHost('the npm package', { root: true, tracefs: true, tools: ['unshare', 'mount', 'npm', 'tar', 'ldd', 'sync', 'du'] }, () => {
  let dir: string;
  let bin: string; // the only PATH of the restricted runs
  let app: string;
  let tarball: string;
  let packed: { size: number; unpackedSize: number; files: { path: string }[] };
  let install: SpawnSyncReturns<string>;
  let installed: string;
  let syncCopy: string;

  let cache: string; // the npm cache of every install here: empty at the start
  let overrides: Record<string, string>; // each runtime dependency -> its tarball

  const restricted = (args: string[], cwd: string, env: Record<string, string> = {}) =>
    spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `${HIDE}\nexec env -i "$@"`, 'sh',
        `HOME=${os.homedir()}`, `PATH=${bin}`, `npm_config_cache=${cache}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args],
      { cwd, encoding: 'utf8', timeout: 120000 },
    );

  const INSTALL = ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'];
  const npmInstall = (cwd: string, from = tarball, env: Record<string, string> = {}) => restricted(['npm', ...INSTALL, from], cwd, env);

  // The same package without its prebuilds, as on a machine none of them fits.
  let bare: string | undefined;
  const withoutPrebuilds = () => {
    if (bare) return bare;
    const d = path.join(dir, 'bare');
    fs.mkdirSync(d);
    const x = spawnSync('tar', ['-xzf', tarball, '-C', d]);
    if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
    fs.rmSync(path.join(d, 'package', 'prebuilds'), { recursive: true, force: true });
    const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', d], { cwd: path.join(d, 'package'), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
    bare = path.join(d, JSON.parse(r.stdout)[0].filename as string);
    return bare;
  };

  /** A project; `allowScripts` approves kprobe-node's install script, as `npm install-scripts approve` does. */
  const newApp = (name: string, allowScripts = false) => {
    const d = path.join(dir, name);
    fs.mkdirSync(d);
    const json = { name, version: '1.0.0', private: true, overrides, ...(allowScripts ? { allowScripts: { [pkg.name]: true } } : {}) };
    fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify(json, null, 2));
    return d;
  };

  /**
   * Packs every runtime dependency (the lock file's non-dev packages) from
   * node_modules into `deps/`, and returns the overrides that point npm at them.
   */
  const packDependencies = (): Record<string, string> => {
    const deps = path.join(dir, 'deps');
    fs.mkdirSync(deps);
    const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
    };
    const out: Record<string, string> = {};
    for (const [where, p] of Object.entries(lock.packages)) {
      if (!where || p.dev || p.devOptional) continue;
      const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', deps, `./${where}`], { cwd: repoRoot, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`npm pack ${where} failed: ${r.stderr}`);
      out[where.replace(/^.*node_modules\//, '')] = `file:${path.join(deps, JSON.parse(r.stdout)[0].filename as string)}`;
    }
    return out;
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-pkg-'));
    fs.chmodSync(dir, 0o755);
    cache = path.join(dir, 'npm-cache');
    fs.mkdirSync(cache);
    overrides = packDependencies();
    const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
    packed = JSON.parse(r.stdout)[0];
    tarball = path.join(dir, (packed as unknown as { filename: string }).filename);

    bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['node', 'npm', 'sh', 'env', 'ldd', 'bash', 'sed', 'cat', 'ls', 'rm', 'mkdir', 'sync', 'du']) {
      const p = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { encoding: 'utf8' }).stdout.trim();
      if (p) fs.symlinkSync(p, path.join(bin, tool));
    }
    syncCopy = path.join(dir, COMM);
    fs.copyFileSync(fs.realpathSync(spawnSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).stdout.trim()), syncCopy);
    fs.chmodSync(syncCopy, 0o755);

    app = newApp('app');
    install = npmInstall(app);
    installed = path.join(app, 'node_modules', pkg.name);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds exactly what ships', () => {
    const files = packed.files.map((f) => f.path).sort();
    const allowed = [
      /^package\.json$/, /^README\.md$/, /^LICENSE$/, /^binding\.gyp$/, /^scripts\/install\.js$/, /^scripts\/kprobe-node$/,
      /^dist\/lib\/.+\.(js|d\.ts)$/, /^dist\/bpf\/[^/]+\/[^/]+\.bpf\.o$/, /^prebuilds\/linux-[^/]+\/[^/]+\.node$/,
      // for the from-source fallback where no prebuild fits
      /^native\/[^/]+\.(cc|h)$/, /^bpf\/kprobe_node\.h$/,
      // the exporter daemon's example config and systemd unit
      /^contrib\/exporter\/[^/]+$/,
    ];
    expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
    for (const f of ['README.md', 'LICENSE', ...ARCHES.map((a) => `dist/bpf/${a}/kprobe_node.bpf.o`), ...ARCHES.map((a) => `prebuilds/linux-${a}/${pkg.name}.glibc.node`)]) {
      expect(files).toContain(f);
    }
    // bin, main, types and exports point into the tarball
    const targets = [...Object.values(pkg.bin), pkg.main, pkg.types];
    for (const e of Object.values(pkg.exports)) targets.push(...(typeof e === 'string' ? [e] : Object.values(e)));
    for (const t of targets) expect(files).toContain(path.normalize(t));
    // every compiled module has its typings and a source (no stale outputs of deleted files)
    for (const f of files.filter((x) => /^dist\/lib\/.+\.js$/.test(x))) {
      expect(files).toContain(f.replace(/\.js$/, '.d.ts'));
      expect(fs.existsSync(path.join(repoRoot, f.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
    console.log(`${path.basename(tarball)}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files`);
  });

  test('every dependency comes from this checkout: none is asked of the registry, none taken from a warm cache', () => {
    expect(Object.keys(overrides).sort()).toEqual(expect.arrayContaining(Object.keys(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).dependencies)));
    expect(install.stderr).not.toMatch(/ENOTCACHED|registry\.npmjs/);
    // The cache started empty and holds only what this test's installs put there: no registry metadata.
    const cached = spawnSync('grep', ['-rl', 'registry.npmjs.org/', path.join(cache, '_cacache', 'index-v5')], { encoding: 'utf8' });
    expect(cached.stdout).toBe('');
  });

  test.each(ARCHES)('the %s prebuild is for that machine, stripped, and needs no libbpf, libelf or zlib', (arch) => {
    const file = path.join(repoRoot, 'prebuilds', `linux-${arch}`, `${pkg.name}.glibc.node`);
    expect(fs.readFileSync(file).readUInt16LE(18)).toBe({ x64: 62, arm64: 183 }[arch]); // e_machine
    const sections = spawnSync('readelf', ['-S', '-W', file], { encoding: 'utf8' });
    expect(sections.status).toBe(0);
    expect(sections.stdout).toContain('.dynsym');
    expect(sections.stdout).not.toMatch(/\.symtab|\.debug_/);
    const needed = spawnSync('readelf', ['-d', '-W', file], { encoding: 'utf8' }).stdout;
    const libs = [...needed.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]).sort();
    expect(libs).toContain('libc.so.6');
    // the C and C++ runtimes only: libbpf, libelf and zlib are linked in
    expect(libs.filter((l) => !/^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libstdc\+\+\.so\.6|ld-linux-[\w-]+\.so\.\d)$/.test(l))).toEqual([]);
    console.log(`prebuilds/linux-${arch}: ${fs.statSync(file).size} bytes`);
  });

  test('installs offline with no compiler or libbpf; the addon is the prebuilt one and links no libbpf', () => {
    expect(install.stderr + install.stdout).not.toMatch(/gyp info|failed/);
    expect(install.status).toBe(0);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled

    const r = restricted(['node', '-p', `require('node-gyp-build').path(${JSON.stringify(installed)})`], installed);
    expect(r.status).toBe(0);
    const addon = r.stdout.trim();
    expect(path.relative(installed, addon)).toBe(`prebuilds/linux-${process.arch}/${pkg.name}.glibc.node`);

    const ldd = restricted(['ldd', addon], app);
    expect(ldd.status).toBe(0);
    console.log(`ldd ${path.relative(app, addon)}:\n${ldd.stdout}`);
    expect(ldd.stdout).not.toMatch(/libbpf|libelf|libz\.|not found/);

    const du = (p: string) => Number(spawnSync('du', ['-sk', p], { encoding: 'utf8' }).stdout.split('\t')[0]);
    console.log(`installed: ${du(installed)} KiB the package, ${du(path.join(app, 'node_modules'))} KiB with its dependencies`);
  });

  test('the installed CLI traces a tracepoint', () => {
    expect(install.status).toBe(0);
    const r = restricted(
      [path.join(app, 'node_modules', '.bin', Object.keys(pkg.bin)[0]), '--tracepoint', 'syscalls:sys_enter_syncfs', '--comm', COMM, '-c', `${syncCopy} -f /`],
      app,
    );
    expect(r.stderr).toMatch(/^kprobe-node: 1 events, 0 lost$/m);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${COMM} \\d+ fd=\\d+$`));
  });

  test('the installed command starts node without NODE_EXTRA_CA_CERTS, and gives it back to -c commands', () => {
    expect(install.status).toBe(0);
    const ca = { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' };
    // node reads the file at start-up, before any script, and says so when it cannot
    expect(restricted(['node', '-e', '0'], app, ca).stderr).toMatch(/Ignoring extra certs from `\/nonexistent\/ca\.pem`/);
    const r = restricted(
      [
        path.join(app, 'node_modules', '.bin', Object.keys(pkg.bin)[0]), '--tracepoint', 'syscalls:sys_enter_syncfs', '--comm', COMM,
        '-c', `echo "ca=$NODE_EXTRA_CA_CERTS saved=\${KPROBE_NODE_CA_CERTS-none}"; ${syncCopy} -f /`,
      ],
      app,
      ca,
    );
    expect(r.stderr).not.toMatch(/extra certs/);
    expect(r.stderr).toMatch(/^kprobe-node: 1 events, 0 lost$/m);
    expect(r.stdout).toContain('ca=/nonexistent/ca.pem saved=none');
    expect(r.status).toBe(0);
  });

  test('typings: a strict TypeScript program compiles against the package and runs', () => {
    expect(install.status).toBe(0);
    const src = `
import { execFileSync } from 'child_process';
import { attachSyscall, ErrorCode, KprobeNodeError, NotFoundError, Probe, TraceEvent } from '${pkg.name}';

function describeError(e: unknown): string {
  if (e instanceof NotFoundError) {
    const suggestions: string[] = e.suggestions;
    return \`\${e.code} \${e.name} \${suggestions.length}\`;
  }
  if (e instanceof KprobeNodeError) {
    const code: ErrorCode = e.code;
    return code;
  }
  return 'not a KprobeNodeError';
}

function fields(ev: TraceEvent): string {
  const pid: number = ev.pid;
  const tid: number = ev.tid;
  const comm: string = ev.comm;
  const probe: string = ev.probe;
  const ns: bigint = ev.ns;
  const when: Date = ev.time;
  const args: Record<string, unknown> = ev.args;
  return JSON.stringify({ pid, tid, comm, probe, ns: ns > 0n, when: when instanceof Date, args: Object.keys(args) });
}

// Never called: these must NOT compile.
export function typeErrors(ev: TraceEvent, p: Probe): void {
  // @ts-expect-error pid is a number
  const pid: string = ev.pid;
  // @ts-expect-error the syscall's name is required
  attachSyscall();
  // @ts-expect-error comm is a string
  attachSyscall('syncfs', { comm: 1 });
  p.on('event', (e) => {
    // @ts-expect-error an event listener gets a TraceEvent
    const comm: number = e.comm;
    void comm;
  });
  void pid;
}

async function main(): Promise<void> {
  try {
    attachSyscall('no_such_syscall_kn');
    console.log('error none');
  } catch (e) {
    console.log('error', describeError(e));
  }
  const probe: Probe = attachSyscall('syncfs', { comm: process.argv[2] });
  const event = new Promise<TraceEvent>((resolve) => probe.once('event', resolve));
  execFileSync(process.argv[3], ['-f', '/']);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event')), 10000));
  console.log('event', fields(await Promise.race([event, timeout])));
  probe.close();
  process.exit(0);
}
void main();
`;
    fs.writeFileSync(path.join(app, 'consumer.ts'), src);
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const common = ['--strict', '--target', 'ES2022', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types')];
    // Both resolutions a CommonJS project may use today read "exports".
    const old = restricted(['node', tsc, ...common, '--module', 'commonjs', '--moduleResolution', 'bundler', '--noEmit', 'consumer.ts'], app);
    expect(old.stdout + old.stderr).toBe('');
    const c = restricted(['node', tsc, ...common, '--module', 'node16', '--moduleResolution', 'node16', '--outDir', 'out', 'consumer.ts'], app);
    expect(c.stdout + c.stderr).toBe('');
    expect(c.status).toBe(0);

    const r = restricted(['node', 'out/consumer.js', COMM, syncCopy], app);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('error EKN_NOT_FOUND NotFoundError 0');
    expect(lines[1]).toMatch(/^event /);
    const ev = JSON.parse(lines[1].slice('event '.length));
    expect(ev).toMatchObject({ comm: COMM, probe: 'syscall:syncfs', ns: true, when: true, args: ['fd'] });
    expect(ev.pid).toBeGreaterThan(1);
  });

  test('with no prebuild that fits and its install script not approved, the first use says how to approve and rebuild', () => {
    const d = newApp('from-source-unapproved');
    // As npm does for a package whose scripts are not approved (or with --ignore-scripts): nothing is built.
    const r = restricted(['npm', ...INSTALL, '--ignore-scripts', withoutPrebuilds()], d);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/gyp info/);
    const use = restricted(['node', '-e', `
      try { require('${pkg.name}').attachSyscall('syncfs'); console.log('attached'); process.exit(0); }
      catch (e) { console.log(e.name, e.feature); console.log(e.message); }`], d);
    const [kind, message] = use.stdout.split('\n');
    expect(kind).toBe('UnsupportedError addon');
    expect(message).toContain(`npm install-scripts approve ${pkg.name}`);
    expect(message).toContain(`npm rebuild ${pkg.name}`);
    expect(message).toContain('libbpf-dev');
  });

  test('on an architecture it does not support, it installs, and the first use fails naming the architecture', () => {
    const d = newApp('riscv64');
    const preload = path.join(d, 'riscv64.js');
    fs.writeFileSync(preload, "Object.defineProperty(process, 'arch', { value: 'riscv64' });");
    const env = { NODE_OPTIONS: `--require ${preload}` };
    const r = npmInstall(d, tarball, env);
    expect(r.stdout + r.stderr).toContain('kprobe-node: supports x64 and arm64 only; nothing to build on riscv64');
    expect(r.status).toBe(0);
    const use = restricted(
      ['node', '-e', `try { require('${pkg.name}').attachSyscall('openat') } catch (e) { console.log(e.name, e.code, e.feature, e.message) }`],
      d,
      env,
    );
    expect(use.stderr).toBe('');
    expect(use.stdout.trim()).toBe(
      'UnsupportedError EKN_UNSUPPORTED arch kprobe-node does not support the riscv64 architecture: it knows the registers of x64 and arm64 only',
    );
  });

  test('with no prebuild that fits and no compiler, install fails saying what to install', () => {
    const d = newApp('from-source-restricted', true);
    const r = npmInstall(d, withoutPrebuilds());
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`kprobe-node: .*linux-${process.arch}.*Node ${process.version.replace(/\./g, '\\.')} \\(ABI ${process.versions.modules}, N-API \\d+\\), and building it failed;`));
    expect(out).toContain('apt-get install g++ make python3 libbpf-dev libelf-dev zlib1g-dev');
  });

  test('with the toolchain and libbpf-dev, the fallback builds from source against the shared libbpf', () => {
    const d = newApp('from-source', true);
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_cache: cache };
    delete env.KPROBE_NODE_LIBBPF_DIR;
    const r = spawnSync('npm', [...INSTALL, withoutPrebuilds()], { cwd: d, env, encoding: 'utf8', timeout: 200000 });
    expect(r.stdout + r.stderr).not.toContain('building it failed');
    expect(r.status).toBe(0);
    const pkgDir = path.join(d, 'node_modules', pkg.name);
    const addon = path.join(pkgDir, 'build', 'Release', 'kprobe_node.node');
    expect(spawnSync('ldd', [addon], { encoding: 'utf8' }).stdout).toMatch(/libbpf\.so/);
    const load = spawnSync('node', ['-p', `require('node-gyp-build')(${JSON.stringify(pkgDir)}).libbpfVersion`], { cwd: d, encoding: 'utf8' });
    expect(load.stderr).toBe('');
    expect(load.stdout.trim()).toMatch(/^\d+\.\d+/);
  });
});
