/**
 * The error taxonomy. Every error pathguard raises on purpose is a
 * PathguardError with a stable `code`; callers branch on `code`, never on the
 * message text. This module imports nothing, so every layer (wire included)
 * may use it.
 */

export const ERROR_CODES = [
  'PG_DECODE',
  'PG_SYSCALL',
  'PG_NETLINK',
  'PG_NFT',
  'PG_CONFIG',
  'PG_USAGE',
  'PG_UNSUPPORTED',
  'PG_TIMEOUT',
  'PG_LAB', // a test lab could not be set up or torn down
  'PG_INTERNAL', // a bug: an error pathguard did not raise on purpose
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** True when `code` is one of ERROR_CODES (for codes that crossed a thread or process boundary as text). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

export class PathguardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes that do not decode. `offset` is where the reader stood when it gave up. */
export class DecodeError extends PathguardError {
  readonly what: string;
  readonly offset: number;
  constructor(what: string, message: string, offset: number) {
    super('PG_DECODE', `${what}: ${message} (at byte ${offset})`);
    this.what = what;
    this.offset = offset;
  }
}

/** A libc call that failed: the syscall name and the errno name (EPERM, ENOBUFS, ...). */
export class SyscallError extends PathguardError {
  readonly syscall: string;
  readonly errno: number;
  readonly errnoName: string;
  constructor(syscall: string, errno: number, errnoName: string, detail?: string) {
    super('PG_SYSCALL', `${syscall}: ${errnoName} (errno ${errno})${detail ? `: ${detail}` : ''}`);
    this.syscall = syscall;
    this.errno = errno;
    this.errnoName = errnoName;
  }
}

/** The kernel answered a netlink request with NLMSG_ERROR; `ackText` is the extended ACK message. */
export class NetlinkError extends PathguardError {
  readonly errno: number;
  readonly errnoName: string;
  readonly ackText?: string;
  readonly ackOffset?: number;
  readonly request?: string;
  constructor(
    errno: number,
    errnoName: string,
    opts: { ackText?: string; ackOffset?: number; request?: string } = {},
  ) {
    const where = opts.request ? `${opts.request}: ` : '';
    const ack = opts.ackText ? `: ${opts.ackText}` : '';
    super('PG_NETLINK', `${where}${errnoName} (errno ${errno})${ack}`);
    this.errno = errno;
    this.errnoName = errnoName;
    if (opts.ackText !== undefined) this.ackText = opts.ackText;
    if (opts.ackOffset !== undefined) this.ackOffset = opts.ackOffset;
    if (opts.request !== undefined) this.request = opts.request;
  }
}

/** One problem in a configuration: the field, the value found, and what was expected. */
export interface ConfigProblem {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
}

/** Configuration that does not validate. Lists every problem at once. */
export class ConfigError extends PathguardError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('PG_CONFIG', ConfigError.format(problems));
    this.problems = problems;
  }
  static format(problems: readonly ConfigProblem[]): string {
    const lines = problems.map(
      (p) => `  ${p.field}: got ${JSON.stringify(p.value) ?? String(p.value)}, expected ${p.expected}`,
    );
    return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
  }
}

/** The command line is wrong; the CLI exits 2. */
export class UsageError extends PathguardError {
  constructor(message: string) {
    super('PG_USAGE', message);
  }
}

/** The running kernel or machine lacks a feature (no ipip module, no tracefs, ...). */
export class UnsupportedError extends PathguardError {
  readonly feature: string;
  constructor(feature: string, message: string) {
    super('PG_UNSUPPORTED', `${feature}: ${message}`);
    this.feature = feature;
  }
}

/**
 * An error as it crosses a thread boundary (a worker's postMessage clones
 * plain data, not classes): its code, message and, for configuration errors,
 * the problems. `reviveError()` turns it back into the class the code names,
 * so a ConfigError raised in a worker still exits 2.
 */
export interface SerializedError {
  readonly code: string;
  readonly message: string;
  readonly problems?: readonly ConfigProblem[];
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof ConfigError) return { code: err.code, message: err.message, problems: err.problems };
  if (err instanceof PathguardError) return { code: err.code, message: err.message };
  return { code: 'PG_INTERNAL', message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

export function reviveError(e: SerializedError): PathguardError {
  if (e.code === 'PG_CONFIG' && e.problems) return new ConfigError(e.problems);
  return new PathguardError(isErrorCode(e.code) ? e.code : 'PG_INTERNAL', e.message);
}
