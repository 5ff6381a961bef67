import type { Headers } from '../../core/index.ts';

/** A dead letter's value at most this long; longer ones are cut and marked truncated. */
const MAX_LETTER_VALUE_BYTES = 64 * 1024;

/** A value cut to what a dead letter carries, and whether it was cut. */
export function letterValue(value: Buffer): { value: Buffer; truncated?: true } {
  return value.length > MAX_LETTER_VALUE_BYTES
    ? { value: value.subarray(0, MAX_LETTER_VALUE_BYTES), truncated: true }
    : { value };
}

/** Why a record left the pipeline for the dead-letter topic. */
export const DEAD_LETTER_REASONS = ['decode', 'error', 'late'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** A record that could not be processed, with where it came from and what went wrong. */
export interface DeadLetter {
  reason: DeadLetterReason;
  pipeline: string;
  step: string;
  errorClass: string;
  message: string;
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Event time, when it was known. */
  eventTime?: number;
  /**
   * `record`: the value is a record of `topic` at `partition` and `offset`, and replaying it sends
   * it back there. `result`: a window's result that failed further on (partition and offset -1); it
   * is not a source record, and replay refuses it.
   */
  kind: 'record' | 'result';
  /** The value was cut to fit in the dead-letter topic. */
  truncated?: boolean;
  /** The source record's own headers (a record letter), kept so that replay sends them again. */
  headers?: Headers;
}

/** What a thrown value says about itself, whatever was thrown. */
export function describeError(error: unknown): { errorClass: string; message: string } {
  if (error instanceof Error)
    return { errorClass: error.name || error.constructor.name, message: error.message };
  return { errorClass: typeof error, message: String(error) };
}
