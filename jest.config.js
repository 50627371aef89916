// Tests are written in TypeScript and compiled by `make` into dist/test, so
// that jest itself runs plain JavaScript (fast, also inside the test VM).
const project = (name, dir) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/dist/test/${dir}/**/*.test.js`],
  // Only dist/ is crawled for tests: the repo also holds node_modules/ and the VM's kernels
  // (.cache/), which take jest a minute to walk inside the VM, where /tmp has no jest cache.
  roots: ['<rootDir>/dist'],
  // The tests are compiled already: no babel pass (it costs ~40 s in the VM, which has no cache).
  transform: {},
  // Build caches (benchmark snapshots, VM images) hold copies of package.json.
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
  // Every test must assert something on every path (test/setup.ts).
  setupFilesAfterEnv: ['<rootDir>/dist/test/setup.js'],
});

module.exports = {
  projects: [
    project('unit', 'unit'),
    project('host', 'host'),
    project('kernel', 'kernel'),
    // On a kernel below the floor only (scripts/test runs it in the VM on 5.10).
    project('floor', 'floor'),
  ],
};
