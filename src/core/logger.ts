import { pino } from 'pino';

export type Logger = pino.Logger;

/** One structured logger for the process; `KAPPA_LOG_LEVEL` sets the level (default `info`, tests `silent`). */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.KAPPA_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  return pino({ level, name: options.name ?? 'kappa' });
}

export const silentLogger: Logger = pino({ level: 'silent' });
