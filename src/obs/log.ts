/**
 * The logger: JSON lines through pino, one logger made in `main` and handed
 * down as `log.child({ component })`.
 *
 * Lines go to stderr. stdout belongs to command output — `doctor --json`,
 * `probe`, `trace` print results there and must stay parseable while they
 * log — and the long-running agent follows the same rule so that there is
 * one rule. Container runtimes collect both streams.
 *
 * The destination is synchronous (pino.destination({ sync: true }), a
 * write(2) per line): a line logged just before process.exit() or a crash is
 * on the stream when the process ends. pathguard logs decisions, not
 * packets, and the data plane runs in a worker thread, so the cost of a
 * blocking write per line does not matter.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { ConfigError } from '../errors.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  /**
   * Where lines go: a file descriptor (default 2, stderr), a file path, or
   * a stream (tests). Descriptors and paths are written synchronously.
   */
  readonly destination?: number | string | DestinationStream;
}

/** Checks a configured level; the field name goes into the ConfigError. */
export function parseLogLevel(value: unknown, field = 'logLevel'): LogLevel {
  if (typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new ConfigError([{ field, value, expected: `one of ${LOG_LEVELS.join(', ')}` }]);
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = parseLogLevel(opts.level, 'level');
  const dest = opts.destination ?? 2;
  const stream = typeof dest === 'number' || typeof dest === 'string' ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      name: 'pathguard',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"warn" rather than 40: read by people and by log pipelines alike.
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    stream,
  );
}

/** The child logger a component receives: every line carries `component`. */
export function componentLogger(log: Logger, component: string): Logger {
  return log.child({ component });
}
