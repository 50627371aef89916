/** Assertions on the ExpressionErrors of the fetch compiler. */
import { ExpressionError } from '../../lib/errors';

/** The ExpressionError `fn` throws. */
export function failure(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ExpressionError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

/** Asserts the error's reason (first line) and that its caret points at `at` (a substring of the expression, or a position). */
export function expectError(fn: () => unknown, reason: RegExp, at: string | number): ExpressionError {
  const e = failure(fn);
  expect(e.code).toBe('EKN_BAD_EXPRESSION');
  expect(e.message.split('\n')[0]).toMatch(reason);
  const pos = typeof at === 'number' ? at : e.expression.indexOf(at);
  expect(pos).toBeGreaterThanOrEqual(0);
  expect({ reason: e.message.split('\n')[0], position: e.position }).toEqual({ reason: e.message.split('\n')[0], position: pos });
  // The message shows the expression and a caret under the position.
  const lines = e.message.split('\n');
  expect(lines[lines.length - 1].indexOf('^') - 2).toBe(pos);
  return e;
}
