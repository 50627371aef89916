/**
 * The tracepoint field cases of test/host/sched.test.ts on the VM's kernel
 * (Debian's 6.1), whose sched_process_fork carries its comms as char[16]
 * arrays where the host's 6.18 has __data_loc strings: both layouts get decoded.
 */
import { fieldType, schedCases } from '../helpers/sched-cases';

jest.setTimeout(180_000); // gcc and CLI runs under emulation

test('this kernel lays out sched_process_fork\'s comms as char[16] (the layout these cases are here for)', () => {
  expect(fieldType('sched:sched_process_fork', 'parent_comm')).toBe('char[16]');
  expect(fieldType('sched:sched_process_fork', 'child_comm')).toBe('char[16]');
});

describe('tracepoint fields on the VM kernel', () => {
  schedCases();
});
