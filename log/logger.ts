/**
 * Root logger for moxts (pino) and helpers for child loggers.
 *
 * Levels follow mox: error, warn, info, debug, trace, plus `traceauth` (protocol traces that
 * include authentication exchanges) and `tracedata` (traces that include message data).
 * Secrets are never logged: every key listed in REDACT_PATHS is replaced by "[redacted]",
 * and protocol traces of AUTH lines are only emitted at traceauth.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger<'traceauth' | 'tracedata'>;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace', 'traceauth', 'tracedata'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Numeric levels below pino's trace (10) so that "trace" does not include auth or data traces.
const CUSTOM_LEVELS = { traceauth: 8, tracedata: 5 } as const;

/** Keys whose values must never reach a log line, at any depth we commonly use. */
export const REDACT_PATHS = [
  'password',
  'passwd',
  'secret',
  'token',
  'authorization',
  'Authorization',
  'privateKey',
  '*.password',
  '*.passwd',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.privateKey',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stderr (fd 2) so that CLI output on stdout stays clean. */
  destination?: DestinationStream;
  /** Extra fixed fields, e.g. { proc: 'serve' }. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino<'traceauth' | 'tracedata'>(
    {
      level: opts.level ?? 'info',
      customLevels: CUSTOM_LEVELS,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that writes nothing; for tests and library callers that don't care. */
export function nullLogger(): Logger {
  return pino<'traceauth' | 'tracedata'>({ level: 'silent', customLevels: CUSTOM_LEVELS });
}

let cidCounter = 0;
/** A connection id unique within this process, used as `cid` in every log line of a connection. */
export function newCid(): string {
  cidCounter = (cidCounter + 1) >>> 0;
  return `${Date.now().toString(36)}${cidCounter.toString(36).padStart(4, '0')}`;
}
