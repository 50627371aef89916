/**
 * Failed system calls become typed errors here, and only here: what the
 * addon throws (its errors carry the errno and libbpf's log) and what Node's
 * fs calls throw.
 */
import {
  KprobeNodeError,
  NotFoundError,
  PermissionError,
  SystemError,
  UnsupportedError,
  VerifierError,
} from '../errors';
import { isNativeError } from './native';

/**
 * Turns what the addon threw into a typed error. `what` names the operation
 * in words ("attach kprobe vfs_read"); `notFound` says what was not found,
 * when the caller knows better than ENOENT does.
 */
export function toTypedError(e: unknown, what: string, notFound?: () => KprobeNodeError): Error {
  if (!isNativeError(e)) return e as Error;
  const extra = { errno: e.code, log: e.log };
  const log = e.log ?? '';
  const relocation = coreRelocationFailure(log);
  if (relocation) {
    return new UnsupportedError(
      relocation.what,
      `${what}: program ${relocation.program} reads ${relocation.what}, which this kernel's BTF does not have ` +
        `(CO-RE relocation ${relocation.kind} failed; .log has libbpf's log); guard the read with bpf_core_field_exists() ` +
        'or turn the program off for this kernel',
      extra,
    );
  }
  if (log.includes('BEGIN PROG LOAD LOG') || /processed \d+ insns/.test(log)) {
    return new VerifierError(`${what}: the kernel's verifier rejected the program: ${verifierSummary(log)}`, log, { errno: e.code });
  }
  switch (e.code) {
    case 'EPERM':
    case 'EACCES':
      return new PermissionError(`${what}: not permitted (${e.code}); tracing needs root or CAP_BPF and CAP_PERFMON`, extra);
    case 'ENOENT':
    case 'ESRCH':
      return notFound ? notFound() : new NotFoundError(`${what}: not found (${e.code})`, [], extra);
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
    case 'ENOTSUPP':
    case 'ENOSYS':
      return new UnsupportedError(what, `${what}: not supported by this kernel (${e.code})`, extra);
    default:
      return new SystemError(`${what}: ${e.message}`, extra);
  }
}

/** Whether the addon's error says the kernel lacks what was asked for (rather than refusing it). */
export function isUnsupportedErrno(e: unknown): boolean {
  return isNativeError(e) && /^(EOPNOTSUPP|ENOTSUPP|ENOTSUP|ENOSYS|EINVAL)$/.test(e.code);
}

/**
 * The first CO-RE relocation the running kernel could not satisfy, from
 * libbpf's log ("failed to resolve CO-RE relocation <byte_off> [5] struct
 * task_struct.no_such_field (0:3 @ offset 24)"): the program, the type and
 * field (`struct task_struct.no_such_field`), the relocation's kind.
 */
export function coreRelocationFailure(log: string): { program: string; what: string; kind: string } | undefined {
  const m = /failed to resolve CO-RE relocation <(\w+)> \[\d+\] (.+?) \(/.exec(log);
  if (!m) return undefined;
  // The program whose log it is: the last "prog 'x'" before the line.
  const before = log.slice(0, m.index);
  const progs = [...before.matchAll(/prog '([^']+)'/g)];
  return { program: progs.length ? progs[progs.length - 1][1] : '(unknown)', what: m[2], kind: m[1] };
}

/** The verifier's reason: the last meaningful lines before its statistics. */
export function verifierSummary(log: string): string {
  const lines = log.split('\n').map((l) => l.trim());
  const end = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  const body = (end >= 0 ? lines.slice(0, end) : lines).filter((l) => l && !l.startsWith(';') && !l.startsWith('libbpf:'));
  return body.slice(-2).join(' / ') || 'see .log';
}

/**
 * A failed fs call as a typed error. `needs` says what would permit it
 * (`tracefs needs root or CAP_DAC_READ_SEARCH`); `notFound` is the error for
 * a file that is not there (ENOENT; ENOTDIR for a path through a file;
 * ENAMETOOLONG for a name no file can have).
 */
export function fsError(e: unknown, what: string, how: { needs?: string; notFound?: () => KprobeNodeError } = {}): Error {
  if (e instanceof KprobeNodeError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new PermissionError(`${what}: ${how.needs ?? `not permitted (${code})`}`, { errno: code });
  if ((code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') && how.notFound) return how.notFound();
  return new SystemError(`${what}: ${(e as Error).message}`, { errno: code });
}
