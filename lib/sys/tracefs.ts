/**
 * tracefs: where tracepoints are listed and described. Mounted on demand
 * when missing and we are allowed to.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { NotFoundError, PermissionError, UnsupportedError } from '../errors';
import { fsError } from './errno';
import { closest } from './names';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const NEEDS = 'tracefs needs root or CAP_DAC_READ_SEARCH';

let root: string | undefined;

/** The tracefs mount point, mounting it at /sys/kernel/tracing when needed. */
export function tracefs(): string {
  if (root) return root;
  for (const dir of CANDIDATES) {
    try {
      // Opened, not access(2)ed: access() checks the real uid without capabilities,
      // so it refuses a non-root user that has CAP_DAC_READ_SEARCH.
      fs.closeSync(fs.openSync(path.join(dir, 'events'), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
      return (root = dir);
    } catch (e) {
      // Mounted but closed to us (tracefs is mode 0700): mounting again would not help.
      if ((e as NodeJS.ErrnoException).code === 'EACCES') throw fsError(e, `cannot read ${dir}`, { needs: NEEDS });
    }
  }
  if (!fs.existsSync(CANDIDATES[0])) {
    throw new UnsupportedError('tracefs', 'this kernel has no tracefs (CONFIG_TRACING is off): tracepoints cannot be found');
  }
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', CANDIDATES[0]], { stdio: 'pipe' });
  } catch (e) {
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new PermissionError(
      `tracefs is not mounted and mounting it failed${why ? ` (${why})` : ''}: run as root once, or ` +
        `mount it with: mount -t tracefs tracefs ${CANDIDATES[0]}; in a container, mount the host's: ` +
        `docker run -v ${CANDIDATES[0]}:${CANDIDATES[0]}:ro ...`,
    );
  }
  return (root = CANDIDATES[0]);
}

/** One field of a tracepoint record, as its format file describes it. */
export interface TracepointField {
  name: string;
  /** The C type: `const char *`, `__data_loc char[]`, `char[16]`, `unsigned int`. */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** Fields shared by every event (common_pid, …). */
  common?: boolean;
}

export interface TracepointFormat {
  category: string;
  name: string;
  id: number;
  fields: TracepointField[];
}

const FIELD = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

/** Parses a tracepoint's format file into its fields. */
export function parseFormat(category: string, name: string, text: string): TracepointFormat {
  const fields: TracepointField[] = [];
  const id = Number(/^ID:\s*(\d+)/m.exec(text)?.[1] ?? -1);
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const decl = m[1].trim();
    // The name is the last identifier, before any array suffix: "char comm[16]".
    const d = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?$/.exec(decl);
    if (!d) continue;
    const fieldName = d[2];
    const type = (d[1].trim() + (d[3] ?? '')).replace(/\s+\*/g, ' *').trim();
    fields.push({
      name: fieldName,
      type,
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === '1',
      common: fieldName.startsWith('common_'),
    });
  }
  return { category, name, id, fields };
}

/** Reads `category:name`'s format; an unknown tracepoint gets close names. */
export function readFormat(category: string, name: string): TracepointFormat {
  const file = path.join(tracefs(), 'events', category, name, 'format');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw fsError(e, `cannot read ${file}`, {
      needs: NEEDS,
      notFound: () => new NotFoundError(`no tracepoint ${category}:${name}`, closest(`${category}:${name}`, listTracepoints().map((t) => `${t.category}:${t.name}`))),
    });
  }
  return parseFormat(category, name, text);
}

/** Every tracepoint this kernel has, from available_events. */
export function listTracepoints(): Array<{ category: string; name: string }> {
  const text = fs.readFileSync(path.join(tracefs(), 'available_events'), 'utf8');
  const out: Array<{ category: string; name: string }> = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push({ category: line.slice(0, colon), name: line.slice(colon + 1) });
  }
  return out;
}

/** Every tracepoint, or none where tracefs is missing or closed to us (for lists and hints, not for attaching). */
export function listTracepointsOrNone(): Array<{ category: string; name: string }> {
  try {
    return listTracepoints();
  } catch {
    return [];
  }
}
