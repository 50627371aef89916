/**
 * A burst of 1,000,000 events through one tracepoint: every event is either
 * delivered to JavaScript or counted as lost, never silently dropped. Each
 * run is a child node process (test/helpers/burst-child.ts), because the
 * ring size comes from KPROBE_NODE_RING_BYTES when the session is created.
 */
import * as path from 'path';
import { describeHost } from '../helpers/host';
import { run } from '../helpers/proc';
import { workloadPath } from '../helpers/workload';

jest.setTimeout(60000);

const N = 1_000_000;

interface Burst {
  n: number;
  pid: number;
  seen: number;
  counted: number;
  otherPids: number;
  lost: number;
  lostEvents: number;
  ms: number;
}

async function burst(ringBytes?: number): Promise<Burst> {
  const env = { ...process.env };
  delete env.KPROBE_NODE_RING_BYTES;
  if (ringBytes !== undefined) env.KPROBE_NODE_RING_BYTES = String(ringBytes);
  const r = await run(process.execPath, [path.join(__dirname, '..', 'helpers', 'burst-child.js'), String(N)], { env, timeoutMs: 50000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Burst;
}

function expectAccounted(b: Burst): void {
  expect(b.n).toBe(N);
  expect(b.otherPids).toBe(0); // the pid filter held
  expect(b.counted).toBe(b.seen); // every delivered event reached the listener
  expect(b.lostEvents).toBe(b.lost); // every loss was announced with a 'lost' event
  expect(b.seen + b.lost).toBe(N);
}

describeHost('a burst of 1,000,000 events', { root: true, tracefs: true, tools: ['gcc'] }, () => {
  beforeAll(() => workloadPath());

  test('the default ring: delivered + lost = produced', async () => {
    const b = await burst();
    // eslint-disable-next-line no-console
    console.log(`default ring: ${b.seen} delivered, ${b.lost} lost in ${b.ms.toFixed(0)} ms`);
    expectAccounted(b);
  });

  test('a 16 KiB ring loses events, and counts every one of them', async () => {
    const b = await burst(16384);
    // eslint-disable-next-line no-console
    console.log(`16 KiB ring: ${b.seen} delivered, ${b.lost} lost in ${b.ms.toFixed(0)} ms`);
    expect(b.lost).toBeGreaterThan(0);
    expect(b.seen).toBeGreaterThan(0);
    expectAccounted(b);
  });
});
