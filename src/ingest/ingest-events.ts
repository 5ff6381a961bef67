import { channel } from '../core/index.ts';

/** Change records (snapshot rows, changes, tombstones) a CDC source committed to a table's topic. */
export interface CapturedEvent {
  source: string;
  topic: string;
  records: number;
}

export const captured = channel<CapturedEvent>('ingest', 'cdc');
