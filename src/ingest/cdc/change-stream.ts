import type { ProducerRecord } from '../../core/index.ts';
import { readLatest } from '../../log/index.ts';
import type { Capture } from './capture.ts';
import type { CdcState } from './cdc-state.ts';
import { type Change, cdcTopic, TRUNCATE_KEY } from './change-records.ts';
import type { ChangeSource } from './envelope.ts';
import { formatLsn, PgOutputDecoder, type Relation } from './pgoutput.ts';
import type { ReplicationConnection } from './replication-connection.ts';
import { keyAtOrBefore } from './snapshot-reader.ts';
import {
  type CapturedColumn,
  type CapturedTable,
  capturedColumn,
  readTables,
  readTypes,
} from './table-schema.ts';

/** Microseconds from 1970 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;
/** Records past which a batch of whole transactions is written even if more are waiting. */
const MAX_BATCH_RECORDS = 5000;
const SLOT_CHECK_INTERVAL_MS = 60_000;

/** One open PostgreSQL transaction, gathered until its commit. */
interface OpenTransaction {
  xid: number;
  commitLsn: bigint;
  tsMs: number;
  records: ProducerRecord[];
}

/** Streams from the slot until the connection fails or the source stops. */
export async function streamChanges(
  capture: Capture,
  replication: ReplicationConnection,
  state: CdcState,
): Promise<void> {
  const decoder = new PgOutputDecoder();
  const resume = BigInt(state.lsn);
  const relations = new Map<number, CapturedTable | null>();
  let txn: OpenTransaction | null = null;
  let batch: ProducerRecord[] = [];
  let batchEnd: bigint | null = null;
  let lastCommitLsn: bigint | null = null;
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});

  const flush = async () => {
    if (batchEnd === null) return;
    state.lsn = String(batchEnd);
    for (const [id, segments] of Object.entries(state.tables))
      if (segments.length > 1 && segments.every((s) => BigInt(s.lsn) <= batchEnd!))
        state.tables[id] = [{ upTo: null, lsn: '0' }];
    await capture.commit(batch, state);
    replication.confirm(batchEnd);
    capture.status.lsn = formatLsn(batchEnd);
    batch = [];
    batchEnd = null;
  };

  const onChange = async (change: Change) => {
    for (const keyed of capture.records.records(change))
      if (await counts(capture, state, change.table, keyed.keyText, txn!.commitLsn))
        txn!.records.push(keyed.record);
  };

  const source = (table: CapturedTable, lsn: bigint) =>
    capture.changeSource(table, { tsMs: txn!.tsMs, snapshot: 'false', txId: txn!.xid, lsn, lastCommitLsn });

  await replication.start(capture.slot, capture.publication, resume, {
    onMessage: async (data, walStart) => {
      const m = decoder.decode(data);
      if (m.tag === 'begin') {
        txn = {
          xid: m.xid,
          commitLsn: m.finalLsn,
          tsMs: Number(m.commitTimeMicros / 1000n) + PG_EPOCH_MS,
          records: [],
        };
        return;
      }
      if (m.tag === 'relation') {
        relations.set(m.relation.oid, await relationTable(capture, m.relation));
        return;
      }
      if (m.tag === 'commit') {
        if (txn && m.commitLsn >= resume) {
          for (const r of txn.records) batch.push(r);
          batchEnd = m.endLsn;
          lastCommitLsn = m.commitLsn;
        }
        txn = null;
        if (batch.length >= MAX_BATCH_RECORDS || replication.queued === 0) await flush();
        return;
      }
      // A transaction the bus has already: PostgreSQL sends it again when it was not confirmed.
      if (!txn || txn.commitLsn < resume) return;
      if (m.tag === 'insert' || m.tag === 'update' || m.tag === 'delete') {
        const table = relations.get(m.relation.oid);
        if (!table) return;
        const op = m.tag === 'insert' ? 'c' : m.tag === 'update' ? 'u' : 'd';
        await onChange({
          table,
          op,
          before: m.tag === 'insert' ? null : m.before,
          beforeKeyOnly: m.tag === 'insert' ? false : m.beforeKeyOnly,
          after: m.tag === 'delete' ? null : m.after,
          source: source(table, walStart),
        });
      } else if (m.tag === 'truncate') {
        await flush();
        for (const relation of m.relations) {
          const table = relations.get(relation.oid);
          if (table)
            txn.records.push(...(await truncated(capture, table, txn.records, source(table, walStart))));
        }
      }
    },
    onKeepalive: async (walEnd) => {
      if (txn !== null) return;
      if (batchEnd !== null) await flush();
      // Nothing in hand: everything the server has decoded up to walEnd is on the bus (or was not
      // ours), so the slot may let that WAL go, also when no captured table changes for a while.
      else if (walEnd > replication.confirmed) replication.confirm(walEnd);
    },
    onError: (error) => fail(error),
  });
  capture.status.phase = 'streaming';
  capture.status.lastError = null;
  capture.logger.info(
    { source: capture.name, slot: capture.slot, from: formatLsn(resume) },
    'CDC source streaming',
  );
  const check = setInterval(() => void capture.checkSlot(), SLOT_CHECK_INTERVAL_MS);
  try {
    await Promise.race([
      failed,
      new Promise((resolve) => capture.stopSignal.addEventListener('abort', resolve)),
    ]);
  } finally {
    clearInterval(check);
  }
}

/**
 * Whether a streamed change to this key counts: not when it committed before the consistent point
 * of the snapshot segment holding the key (the snapshot has it already).
 */
async function counts(
  capture: Capture,
  state: CdcState,
  table: CapturedTable,
  keyText: readonly (string | null | symbol)[] | null,
  commitLsn: bigint,
): Promise<boolean> {
  const segments = state.tables[table.id];
  if (!segments) return false;
  if (keyText === null || segments.every((s) => BigInt(s.lsn) <= commitLsn)) return true;
  for (const s of segments)
    if (s.upTo === null || (await keyAtOrBefore(capture.query, table, keyText as (string | null)[], s.upTo)))
      return commitLsn >= BigInt(s.lsn);
  return true;
}

/**
 * A table as a Relation message describes it now (after ALTER TABLE, a new one comes before the
 * next change): the same object while its columns are unchanged, else a new shape with a new
 * schema version. Null for a table the source does not capture.
 */
async function relationTable(capture: Capture, relation: Relation): Promise<CapturedTable | null> {
  const id = `${relation.schema}.${relation.table}`;
  const known = capture.tables.get(id);
  if (!known) return null;
  const same =
    known.columns.length === relation.columns.length &&
    known.columns.every(
      (c, i) =>
        c.name === relation.columns[i]!.name &&
        c.typeOid === relation.columns[i]!.typeOid &&
        c.typeMod === relation.columns[i]!.typeMod,
    );
  if (same) return known;
  const types = await readTypes(
    capture.query,
    relation.columns.map((c) => c.typeOid),
  );
  const columns: CapturedColumn[] = [];
  for (const c of relation.columns) {
    const { rows } = await capture.query.query<{ t: string }>('SELECT format_type($1::oid, $2::int4) AS t', [
      c.typeOid,
      c.typeMod,
    ]);
    columns.push(capturedColumn(c.name, c.typeOid, c.typeMod, rows[0]!.t, types.get(c.typeOid)!));
  }
  const missing = known.key.filter((k) => !columns.some((c) => c.name === k));
  const key = missing.length === 0 ? known.key : (await readTables(capture.query, [id]))[0]!.key;
  const table: CapturedTable = { ...known, columns, key, replicaIdentity: relation.replicaIdentity };
  await capture.records.schemaId(table);
  capture.tables.set(id, table);
  capture.logger.info(
    { source: capture.name, table: id, columns: columns.map((c) => c.name) },
    'captured table changed shape: a new schema version',
  );
  return table;
}

/**
 * A truncate: Debezium's `t` event (keyed `{}`, followed by its tombstone), then a tombstone for
 * every row the table's topic holds, so that the compacted topic is an empty table too.
 */
async function truncated(
  capture: Capture,
  table: CapturedTable,
  pending: readonly ProducerRecord[],
  source: ChangeSource,
): Promise<ProducerRecord[]> {
  const topic = cdcTopic(capture.name, table);
  const live = await readLatest(capture.bus, topic);
  for (const r of pending) if (r.topic === topic && r.key) live.set(r.key.toString('utf8'), r.value);
  const records = capture.records.truncate(table, source);
  for (const [key, value] of live)
    if (value !== null && key !== TRUNCATE_KEY)
      records.push({ topic, key: Buffer.from(key), value: null, timestamp: source.tsMs });
  return records;
}
