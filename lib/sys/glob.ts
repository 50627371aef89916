/**
 * Shell-style wildcards for naming many probes at once: `fuse_*`,
 * `*sync*`, `vfs_?ead`, `sched:sched_[sw]*`. No escapes and no `**`: kernel
 * symbol and tracepoint names never contain the special characters.
 */
import { OptionError } from '../errors';

/** Whether `text` holds a wildcard (`*`, `?` or a `[...]` class). */
export function isGlob(text: string): boolean {
  return /[*?[]/.test(text);
}

/** A whole-string regular expression for the pattern. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new OptionError(`unclosed [ in pattern "${pattern}"`);
      let body = pattern.slice(i + 1, end);
      if (body[0] === '!') body = '^' + body.slice(1);
      out += `[${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** A predicate for the pattern; a plain name matches only itself. */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (!isGlob(pattern)) return (name) => name === pattern;
  const re = globToRegExp(pattern);
  // A prefix before the first wildcard rules most names out without the regex.
  const prefix = /^[^*?[]*/.exec(pattern)?.[0] ?? '';
  return (name) => name.startsWith(prefix) && re.test(name);
}
