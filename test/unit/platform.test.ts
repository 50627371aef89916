/**
 * On a platform other than Linux, importing the package works and the first
 * use that needs the addon fails with an UnsupportedError naming Linux, before
 * the addon is loaded. Simulated in a child node whose preload reports another
 * process.platform.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { distLib } from '../helpers/host';
import { run } from '../helpers/proc';

test.each(['darwin', 'win32', 'freebsd'])('on %s: import works, the addon is never loaded, and the error names linux', async (platform) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-platform-'));
  const preload = path.join(dir, 'platform.js');
  fs.writeFileSync(preload, `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });`);
  const script = `
    const kn = require(${JSON.stringify(distLib)});
    const { native } = require(${JSON.stringify(path.join(distLib, 'sys', 'native.js'))});
    try {
      native();
      console.log(JSON.stringify({ loaded: true }));
    } catch (e) {
      const addon = Object.keys(require.cache).some((f) => f.endsWith('.node'));
      console.log(JSON.stringify({ name: e.name, code: e.code, feature: e.feature, message: e.message, isUnsupported: e instanceof kn.UnsupportedError, addon }));
    }`;
  const r = await run(process.execPath, ['-r', preload, '-e', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    name: 'UnsupportedError',
    code: 'EKN_UNSUPPORTED',
    feature: 'linux',
    message: `kprobe-node traces the Linux kernel; this is ${platform}`,
    isUnsupported: true,
    addon: false,
  });
});
