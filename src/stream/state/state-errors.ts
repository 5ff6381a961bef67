import { ErrorCodes, KappaError } from '../../core/index.ts';

/** The local state store failed (disk full, a corrupt file): the task stops and restores from its changelog. */
export class StateStoreError extends KappaError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.STATE_STORE, 'internal', message, cause === undefined ? {} : { cause });
  }
}
