/**
 * The error taxonomy. Every error pathguard raises on purpose is a
 * PathguardError with a stable `code`; callers branch on `code`, never on the
 * message text. This module imports nothing, so every layer (wire included)
 * may use it.
 */

export type ErrorCode =
  | 'PG_DECODE'
  | 'PG_SYSCALL'
  | 'PG_NETLINK'
  | 'PG_NFT'
  | 'PG_CONFIG'
  | 'PG_USAGE'
  | 'PG_UNSUPPORTED'
  | 'PG_TIMEOUT'
  | 'PG_LAB';

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
