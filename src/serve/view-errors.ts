import { ErrorCodes, KappaError, type KappaErrorOptions } from '../core/index.ts';

export class UnknownViewError extends KappaError {
  constructor(view: string) {
    super(ErrorCodes.UNKNOWN_VIEW, 'user', `View '${view}' does not exist`);
  }
}

/** A promotion or rollback of a view's version that cannot be done; the message says why. */
export class ViewVersionError extends KappaError {
  constructor(view: string, why: string) {
    super(ErrorCodes.VIEW_VERSION, 'user', `View '${view}' ${why}`, { details: { view } });
  }
}

/** The view store (DuckDB or PostgreSQL) failed: worth retrying. */
export class ViewStoreError extends KappaError {
  constructor(message: string, options: KappaErrorOptions = {}) {
    super(ErrorCodes.VIEW_STORE, 'external', message, options);
  }
}

/**
 * A batch's offsets are not the ones the store holds: another materializer (one that took the
 * partition over, or a zombie) got there first. Nothing of the batch was applied; read on from the
 * store's offsets.
 */
export class ViewStoreConflictError extends ViewStoreError {
  constructor(view: string, partition: number, expected: number, stored: number) {
    super(
      `View '${view}', partition ${partition}: the batch starts at offset ${expected}, the store is at ${stored}`,
      { retriable: true, details: { view, partition, expected, stored } },
    );
  }
}

export class QueryInvalidError extends KappaError {
  constructor(message: string, options: KappaErrorOptions = {}) {
    super(ErrorCodes.QUERY_INVALID, 'user', message, options);
  }
}

/** SQL that does more than read views: queries are read-only. */
export class QueryRefusedError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.QUERY_REFUSED, 'user', message);
  }
}
