/**
 * Loaded by jest before every test file of every project (jest.config.js,
 * setupFilesAfterEnv): a test that runs to its end without one assertion
 * fails, so that no branch can pass by doing nothing. A helper that checks by
 * throwing (waitForEvent, errorOf) does not count: assert what it returns.
 */
beforeEach(() => {
  expect.hasAssertions();
});
