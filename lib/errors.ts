/**
 * Every failure kprobe-node reports is one of these classes, each with a
 * stable `code` that callers can match on.
 */

export type ErrorCode =
  | 'EKN_PERMISSION'
  | 'EKN_NOT_FOUND'
  | 'EKN_UNSUPPORTED'
  | 'EKN_VERIFIER'
  | 'EKN_BAD_EXPRESSION'
  | 'EKN_BAD_OPTION'
  | 'EKN_BAD_CONFIG'
  | 'EKN_SYSTEM';

export class KprobeNodeError extends Error {
  readonly code: ErrorCode;
  /** The errno name (`EPERM`, `ENOENT`, …) of the failing system call, when there was one. */
  readonly errno?: string;
  /** libbpf's log of the failing operation, when there was one. */
  readonly log?: string;

  constructor(code: ErrorCode, message: string, extra: { errno?: string; log?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = new.target.name;
    this.code = code;
    if (extra.errno !== undefined) this.errno = extra.errno;
    if (extra.log !== undefined) this.log = extra.log;
  }
}

/** The process lacks the privileges BPF tracing needs. */
export class PermissionError extends KprobeNodeError {
  constructor(message: string, extra: { errno?: string; log?: string } = {}) {
    super('EKN_PERMISSION', message, extra);
  }
}

/** A function, tracepoint, syscall, binary or symbol that does not exist. */
export class NotFoundError extends KprobeNodeError {
  /** Close names that do exist, best first. */
  readonly suggestions: string[];

  constructor(message: string, suggestions: string[] = [], extra: { errno?: string; log?: string } = {}) {
    super('EKN_NOT_FOUND', suggestions.length ? `${message} (did you mean ${suggestions.slice(0, 5).join(', ')}?)` : message, extra);
    this.suggestions = suggestions;
  }
}

/** The running kernel lacks a feature; `feature` names it. */
export class UnsupportedError extends KprobeNodeError {
  readonly feature: string;

  constructor(feature: string, message: string, extra: { errno?: string; log?: string } = {}) {
    super('EKN_UNSUPPORTED', message, extra);
    this.feature = feature;
  }
}

/** The kernel's verifier rejected a program: the message summarises, `log` has it all. */
export class VerifierError extends KprobeNodeError {
  constructor(message: string, log: string, extra: { errno?: string } = {}) {
    super('EKN_VERIFIER', message, { ...extra, log });
  }
}

/** An argument or filter expression that cannot be parsed or resolved. */
export class ExpressionError extends KprobeNodeError {
  /** The expression as given. */
  readonly expression: string;
  /** Zero-based character position of the problem in `expression`. */
  readonly position: number;
  /** Members that do exist, when a member name was wrong. */
  readonly members?: string[];

  constructor(expression: string, position: number, reason: string, members?: string[]) {
    super('EKN_BAD_EXPRESSION', `${reason}\n  ${expression}\n  ${' '.repeat(Math.max(0, position))}^`);
    this.expression = expression;
    this.position = position;
    if (members) this.members = members;
  }
}

/** An option that is wrong before anything touches the kernel. */
export class OptionError extends KprobeNodeError {
  constructor(message: string) {
    super('EKN_BAD_OPTION', message);
  }
}

/** A configuration file that cannot be used: where (`file`, `line`, the `key` path) and why. */
export class ConfigError extends KprobeNodeError {
  readonly file: string;
  /** The key at fault, as a path: `metrics[1].kind`. */
  readonly key?: string;
  /** One-based line of the problem, when the parser knows it. */
  readonly line?: number;

  constructor(file: string, reason: string, where: { key?: string; line?: number } = {}) {
    const at = [file, where.line].filter((p) => p !== undefined).join(':');
    super('EKN_BAD_CONFIG', `${at}: ${where.key ? `${where.key}: ` : ''}${reason}`);
    this.file = file;
    if (where.key !== undefined) this.key = where.key;
    if (where.line !== undefined) this.line = where.line;
  }
}

/** Any other failing system call, with its errno. */
export class SystemError extends KprobeNodeError {
  constructor(message: string, extra: { errno?: string; log?: string; cause?: unknown } = {}) {
    super('EKN_SYSTEM', message, extra);
  }
}
