// A jest reporter for scripts/test: after a run, one line that the runner
// adds up, with what jest's own summary leaves ambiguous made explicit:
//
//   jest-totals: passed=P failed=F skipped=S suite-errors=E skipped-suites=K
//
// suite-errors counts test files that failed with no failing test of their
// own (a file that does not load, a failing afterAll): jest's "Tests:" line
// shows none of them. skipped counts skipped and todo tests.
'use strict';

class JestTotals {
  onRunComplete(_contexts, results) {
    const suiteErrors = results.testResults.filter(
      (r) => (r.testExecError || r.failureMessage) && r.numFailingTests === 0,
    ).length;
    const line =
      `jest-totals: passed=${results.numPassedTests} failed=${results.numFailedTests} ` +
      `skipped=${results.numPendingTests + results.numTodoTests} suite-errors=${suiteErrors} ` +
      `skipped-suites=${results.numPendingTestSuites}`;
    process.stdout.write(`${line}\n`);
  }
}

module.exports = JestTotals;
