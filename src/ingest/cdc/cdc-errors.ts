import { ErrorCodes, KappaError, type KappaErrorOptions } from '../../core/index.ts';

/**
 * The database or the source's config does not allow capture as asked: wal_level, privileges, a
 * missing table, a table without a key, a slot another client holds. `retriable` only for a slot
 * in use (its holder may go away).
 */
export class CdcSetupError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.CDC_SETUP, 'user', message, options);
  }
}

/** The replication connection failed or stopped: the source reconnects and resumes from the bus. */
export class CdcReplicationError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.CDC_REPLICATION, 'external', message, options);
  }
}

/** One captured row that cannot become a record: it is dead-lettered and capture goes on. */
export class CdcRowError extends KappaError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCodes.CDC_ROW, 'data', message, details ? { details } : {});
  }
}
