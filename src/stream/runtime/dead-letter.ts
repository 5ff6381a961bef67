/** Why a record left the pipeline for the dead-letter topic. */
export type DeadLetterReason = 'decode' | 'error' | 'late';

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
}

/** What a thrown value says about itself, whatever was thrown. */
export function describeError(error: unknown): { errorClass: string; message: string } {
  if (error instanceof Error)
    return { errorClass: error.name || error.constructor.name, message: error.message };
  return { errorClass: typeof error, message: String(error) };
}
