import type pg from 'pg';
import type { Logger, ProducerRecord } from '../../core/index.ts';
import type { Bus } from '../../log/index.ts';
import type { CdcState } from './cdc-state.ts';
import type { ChangeRecords } from './change-records.ts';
import type { ChangeSource } from './envelope.ts';
import type { SourceStatus } from './postgres-source.ts';
import type { CapturedTable } from './table-schema.ts';

/**
 * What one connection's worth of capture shares between the snapshot and the stream: the source's
 * settings, its tables as they are now, a plain connection for catalogue lookups, and how a bus
 * transaction with the source's state is written.
 */
export interface Capture {
  name: string;
  url: string;
  slot: string;
  publication: string;
  bus: Bus;
  logger: Logger;
  snapshotPageRows: number;
  records: ChangeRecords;
  /** By `schema.table`; a table that changes shape is replaced here. */
  tables: Map<string, CapturedTable>;
  query: pg.Client;
  /** The source's status, updated as capture goes. */
  status: SourceStatus;
  stopped(): boolean;
  stopSignal: AbortSignal;
  /** Records and the state they bring the source to, in one bus transaction. */
  commit(records: ProducerRecord[], state: CdcState): Promise<void>;
  changeSource(
    table: CapturedTable,
    at: Pick<ChangeSource, 'tsMs' | 'snapshot' | 'txId' | 'lsn' | 'lastCommitLsn'>,
  ): ChangeSource;
  /** Warns when the slot holds back too much WAL. */
  checkSlot(): Promise<void>;
}
