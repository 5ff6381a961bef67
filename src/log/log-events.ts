import { channel } from '../core/index.ts';

/** Batches written to a partition of the embedded log, once they are on disk (per the fsync policy). */
export interface AppendedEvent {
  topic: string;
  partition: number;
  /** Records in the batches, transaction markers included. */
  records: number;
  /** Bytes of the batches as stored. */
  bytes: number;
}

/** Published per write of the log's single writer (a group of batches), not per record. */
export const appended = channel<AppendedEvent>('log', 'append');
