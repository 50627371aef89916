/**
 * Run by test/host/object.test.ts in a node process of its own, to be
 * killed: opens the object given, attaches its on_getppid program, prints
 * "ids {progs, links}" (kernel ids) and waits.
 */
import { openObject } from '../../lib';

const obj = openObject(process.argv[2]).load();
obj.attach('on_getppid');
const info = obj.info();
process.stdout.write(`ids ${JSON.stringify({ progs: info.programs.filter((p) => p.id).map((p) => p.id), links: info.links.map((l) => l.id) })}\n`);
setInterval(() => undefined, 1000);
