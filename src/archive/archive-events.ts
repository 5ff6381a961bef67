import { channel } from '../core/index.ts';

/** A Parquet file the archiver wrote and recorded in its partition's manifest. */
export interface ArchivedEvent {
  topic: string;
  partition: number;
  records: number;
  /** The file's size in the store. */
  bytes: number;
}

export const archived = channel<ArchivedEvent>('archive', 'file');
