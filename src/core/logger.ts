import { pino } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from './errors.ts';

export type Logger = pino.Logger;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * One structured logger for the process. The level: `options.level`, else `KAPPA_LOG_LEVEL`, else
 * `info` (tests: `silent`). The format: `options.format`, else `KAPPA_LOG_FORMAT`, else pretty on a
 * terminal and JSON lines otherwise (a log collector, a pipe, CI).
 */
export function createLogger(options: { level?: string; format?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.KAPPA_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  const format = options.format ?? process.env.KAPPA_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError(`Log level '${level}' is not one of ${LOG_LEVELS.join(', ')}`);
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw new ConfigError(`Log format '${format}' is not one of ${LOG_FORMATS.join(', ')}`);
  const settings = { level, name: options.name ?? 'kappa' };
  if (format === 'json') return pino(settings);
  // In this thread, not a transport's worker: a line logged just before exit is not lost.
  return pino(
    settings,
    pretty({ sync: true, colorize: process.stdout.isTTY === true, ignore: 'pid,hostname' }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
