// Tests are written in TypeScript and compiled by `make` into dist/test, so
// that jest itself runs plain JavaScript (fast, also inside the test VM).
const project = (name, dir) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/dist/test/${dir}/**/*.test.js`],
  // Build caches (benchmark snapshots, VM images) hold copies of package.json.
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
});

module.exports = {
  projects: [
    project('unit', 'unit'),
    project('host', 'host'),
    project('kernel', 'kernel'),
  ],
};
