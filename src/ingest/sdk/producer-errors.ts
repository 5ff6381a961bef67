import { ErrorCodes, KappaError } from '../../core/index.ts';

/**
 * Kappa refused a produce request (4xx other than 429: a bad record, an unknown topic, a missing
 * scope): retrying would not help, so the records of the request fail with it.
 */
export class ProduceRefusedError extends KappaError {
  readonly status: number;
  readonly errorCode: number | null;
  constructor(status: number, errorCode: number | null, message: string) {
    super(ErrorCodes.INVALID_ARGUMENT, 'user', `Produce refused (${status}): ${message}`, {
      details: { status, errorCode },
    });
    this.status = status;
    this.errorCode = errorCode;
  }
}
