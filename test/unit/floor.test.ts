/**
 * checkKernelFloor() with the addon's feature probes replaced: which feature
 * it names, in what order, with what message, and that it probes once per
 * process. The real probes run in the VM on 5.10 (test/floor) and wherever a
 * probe is loaded (every host and kernel test).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { UnsupportedError } from '../../lib/errors';
import { describeHost } from '../helpers/host';

type Probe = 'helper' | 'map' | 'global-func';
interface Call {
  probe: Probe;
  args: number[];
}

/** A features module whose addon lacks the helpers, map types and verifier support in `lacks`. */
function loadFeatures(lacks: { helpers?: number[]; maps?: number[]; globalFuncPointerArgs?: boolean }) {
  const calls: Call[] = [];
  const fake = {
    probeHelper: (progType: number, helper: number) => {
      calls.push({ probe: 'helper', args: [progType, helper] });
      return !lacks.helpers?.includes(helper);
    },
    probeMapType: (mapType: number) => {
      calls.push({ probe: 'map', args: [mapType] });
      return !lacks.maps?.includes(mapType);
    },
    probeGlobalFuncPointerArgs: () => {
      calls.push({ probe: 'global-func', args: [] });
      return !lacks.globalFuncPointerArgs;
    },
  };
  let features: typeof import('../../lib/sys/features') | undefined;
  let errors: typeof import('../../lib/errors') | undefined;
  jest.isolateModules(() => {
    jest.doMock('../../lib/sys/native', () => ({ native: () => fake }));
    features = require('../../lib/sys/features');
    errors = require('../../lib/errors');
  });
  return { check: features!.checkKernelFloor, UnsupportedError: errors!.UnsupportedError, calls };
}

const COOKIE = 174; // BPF_FUNC_get_attach_cookie
const TASK_BTF = 158; // BPF_FUNC_get_current_task_btf
const RINGBUF = 27; // BPF_MAP_TYPE_RINGBUF
const ARRAY = 2; // BPF_MAP_TYPE_ARRAY

function thrown(fn: () => void): UnsupportedError | undefined {
  try {
    fn();
  } catch (e) {
    return e as UnsupportedError;
  }
  return undefined;
}

const floor = (what: string) => `this kernel (${os.release()}) lacks ${what}, which kprobe-node needs: Linux 5.15 or newer is required`;

test('a kernel with every feature passes, and is probed once', () => {
  const { check, calls } = loadFeatures({});
  check();
  expect(calls.map((c) => c.probe)).toEqual(['map', 'helper', 'global-func', 'helper', 'map']);
  check();
  expect(calls).toHaveLength(5);
});

test('where bpf() itself is refused (not even an array map), no feature is blamed, and it is asked again next time', () => {
  const { check, calls } = loadFeatures({ maps: [ARRAY], helpers: [COOKIE] });
  expect(thrown(check)).toBeUndefined();
  expect(calls).toEqual([{ probe: 'map', args: [ARRAY] }]);
  check();
  expect(calls).toHaveLength(2);
});

test.each([
  ['5.10: no cookies, no pointer args, no task_btf', { helpers: [COOKIE, TASK_BTF], globalFuncPointerArgs: true }, 'bpf-cookie', 'BPF cookies (bpf_get_attach_cookie)'],
  ['no pointer args in global functions', { globalFuncPointerArgs: true }, 'global-func-pointer-args', 'global BPF functions with pointer arguments'],
  ['no bpf_get_current_task_btf', { helpers: [TASK_BTF] }, 'current-task-btf', 'the BPF helper bpf_get_current_task_btf'],
  ['no ring buffer', { maps: [RINGBUF] }, 'ringbuf', 'the BPF ring buffer (BPF_MAP_TYPE_RINGBUF)'],
])('%s: UnsupportedError names the feature, the release and 5.15', (_name, lacks, feature, what) => {
  const { check, UnsupportedError, calls } = loadFeatures(lacks);
  const err = thrown(check);
  expect(err).toBeInstanceOf(UnsupportedError);
  expect(err?.code).toBe('EKN_UNSUPPORTED');
  expect(err?.feature).toBe(feature);
  expect(err?.message).toBe(floor(what));
  // Once: a second call throws the same without probing again.
  const probes = calls.length;
  const again = thrown(check);
  expect(again?.feature).toBe(feature);
  expect(again?.message).toBe(err?.message);
  expect(calls).toHaveLength(probes);
});

describeHost('the ids checkKernelFloor probes are the kernel ABI\'s', { tools: ['cc'] }, () => {
  test('BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, BPF_FUNC_get_current_task_btf, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_ARRAY', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-ids-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'ids.c'),
        '#include <linux/bpf.h>\n#include <stdio.h>\nint main(void) { printf("%d %d %d %d %d\\n", BPF_PROG_TYPE_KPROBE, ' +
          'BPF_FUNC_get_attach_cookie, BPF_FUNC_get_current_task_btf, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_ARRAY); return 0; }\n',
      );
      execFileSync('cc', ['-o', path.join(dir, 'ids'), path.join(dir, 'ids.c')]);
      const [kprobe, cookie, taskBtf, ringbuf, array] = execFileSync(path.join(dir, 'ids'), { encoding: 'utf8' }).trim().split(' ').map(Number);
      const { check, calls } = loadFeatures({});
      check();
      expect(calls).toEqual([
        { probe: 'map', args: [array] },
        { probe: 'helper', args: [kprobe, cookie] },
        { probe: 'global-func', args: [] },
        { probe: 'helper', args: [kprobe, taskBtf] },
        { probe: 'map', args: [ringbuf] },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
