/**
 * Tracepoint fields decoded on this kernel (test/helpers/sched-cases.ts has
 * the cases; test/kernel/sched.test.ts runs them on the VM's 6.1, where the
 * fork tracepoint's comms are char[16] instead of __data_loc strings).
 */
import { describeHost } from '../helpers/host';
import { schedCases } from '../helpers/sched-cases';

jest.setTimeout(30000);

describeHost('tracepoint fields on the real kernel', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  schedCases();
});
