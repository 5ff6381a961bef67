import { ErrorCodes, KappaError } from '../../core/index.ts';
import type { Aggregator } from '../aggregates/aggregator.ts';
import type { DeadLetterReason } from './dead-letter.ts';

/** What a window's result is when its aggregator's `result()` threw: the window goes to the dead letters. */
export class ResultFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** An aggregator whose `result()` may throw, as one that returns ResultFailed instead. */
export function guarded(
  aggregator: Aggregator<unknown, unknown, unknown>,
): Aggregator<unknown, unknown, unknown> {
  return {
    init: () => aggregator.init(),
    add: (acc, record, ts) => aggregator.add(acc, record, ts),
    merge: (a, b) => aggregator.merge(a, b),
    result: (acc) => {
      try {
        return aggregator.result(acc);
      } catch (error) {
        return new ResultFailed(error);
      }
    },
  };
}

/** A join function that may throw, as one that returns ResultFailed instead (a join may run at a watermark). */
export function guardedJoin<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => unknown {
  return (...args) => {
    try {
      return fn(...args);
    } catch (error) {
      return new ResultFailed(error);
    }
  };
}

/** A poison record's way out: the step that refused it, and why. */
export class Poison {
  readonly step: string;
  readonly reason: DeadLetterReason;
  readonly error: unknown;
  constructor(step: string, reason: DeadLetterReason, error: unknown) {
    this.step = step;
    this.reason = reason;
    this.error = error;
  }
}

/** A record later than its windows' allowed lateness: it goes to the late output. */
export class LateRecordError extends KappaError {
  constructor(eventTime: number, watermark: number, allowedLateness: number) {
    super(
      ErrorCodes.RECORD_LATE,
      'data',
      `Event time ${new Date(eventTime).toISOString()} is behind the watermark ${new Date(watermark).toISOString()} by more than the allowed lateness (${allowedLateness} ms)`,
    );
  }
}
