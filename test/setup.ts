/**
 * Loaded by jest before every test file of every project (jest.config.js,
 * setupFilesAfterEnv): a test that runs to its end without one assertion
 * fails, so that no branch can pass by doing nothing. A helper that checks by
 * throwing (waitForEvent, errorOf) does not count: assert what it returns.
 *
 * After each file, children a failed test left running are killed: one that
 * waits on its stdin (a paused workload) would keep the jest worker, and so
 * jest itself, from ever exiting.
 */
import { running } from './helpers/proc';

beforeEach(() => {
  expect.hasAssertions();
});

afterAll(() => {
  for (const child of running) child.kill();
});
