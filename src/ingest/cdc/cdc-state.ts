import type { ProducerRecord } from '../../core/index.ts';
import type { Bus } from '../../log/index.ts';
import { readSourceState, sourceStateRecord } from '../source-state.ts';

/**
 * Where each CDC source is, kept on the bus beside its records (source-state.ts). A restart resumes
 * from it, so the bus and the position never disagree (PostgreSQL's slot is told only after, and may
 * lag behind: the bus is the truth).
 */
export const CDC_STATE_TOPIC = 'kappa-cdc-state';

/**
 * The rows of a table snapshotted at one consistent point: keys up to `upTo` (the key's text values;
 * null: to the end of the table), after the previous segment's. A streamed change to a key counts
 * only if it committed at or after its segment's `lsn`: earlier ones are in the snapshot already.
 * A table snapshotted in one go has one segment; a snapshot cut short by a crash resumes at a later
 * consistent point, which makes another.
 */
export interface Segment {
  upTo: string[] | null;
  /** An LSN, as a decimal string (JSON has no 64-bit integers). */
  lsn: string;
}

export interface CdcState {
  version: 1;
  slot: string;
  publication: string;
  /** Streaming resumes here: the end of the last transaction on the bus, or the slot's consistent point. */
  lsn: string;
  /** By `schema.table`; a table is snapshotted when its last segment ends with `upTo: null`. */
  tables: Record<string, Segment[]>;
  /** Rows read by the snapshot so far, by table (for progress). */
  snapshotRows?: Record<string, number>;
}

export function snapshotted(segments: readonly Segment[] | undefined): boolean {
  return segments !== undefined && segments.length > 0 && segments.at(-1)!.upTo === null;
}

export function readCdcState(bus: Bus, source: string): Promise<CdcState | null> {
  return readSourceState<CdcState>(bus, CDC_STATE_TOPIC, source);
}

export function cdcStateRecord(source: string, state: CdcState | null): ProducerRecord {
  return sourceStateRecord(CDC_STATE_TOPIC, source, state);
}
