/**
 * What every command gets: the global options, a logger, and the error type for mistakes the user
 * can fix (printed as one line, exit code 1, no stack trace).
 */
import type { Command } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log/logger.js';

export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

export interface GlobalOptions {
  config: string;
  loglevel?: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function parseLogLevel(s: string | undefined): LogLevel | undefined {
  if (s === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(s)) throw new UserError(`unknown log level ${JSON.stringify(s)}; one of ${LOG_LEVELS.join(', ')}`);
  return s as LogLevel;
}

export function commandLogger(cmd: Command, fallback: LogLevel = 'info'): Logger {
  return createLogger({ level: parseLogLevel(globalOptions(cmd).loglevel) ?? fallback });
}
