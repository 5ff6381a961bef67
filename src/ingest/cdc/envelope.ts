import { CdcRowError } from './cdc-errors.ts';
import { type ColumnValue, UNCHANGED_TOAST } from './pgoutput.ts';
import type { CapturedColumn, CapturedTable } from './table-schema.ts';

/**
 * Debezium's change event envelope (io.debezium.connector.postgresql), as Avro: what Kappa writes
 * as the value of every CDC record, so that tools written for Debezium read Kappa's topics.
 * https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-events
 */

export type Op = 'r' | 'c' | 'u' | 'd' | 't';

/** What a change's `source` block says: where in the database it happened. */
export interface ChangeSource {
  /** The CDC source's name: Debezium's topic.prefix (`source.name`). */
  name: string;
  db: string;
  schema: string;
  table: string;
  /** Commit time (streamed changes) or the time the snapshot read the row. */
  tsMs: number;
  snapshot: 'true' | 'last' | 'false';
  txId: number | null;
  /** The change's own WAL position (streamed), or the snapshot's consistent point. */
  lsn: bigint | null;
  /** The previous transaction's commit position, for `sequence`. */
  lastCommitLsn: bigint | null;
}

/** Placeholder of a TOAST value an update left unchanged and the before image does not hold (Debezium's). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

export const KAPPA_CDC_VERSION = 'kappa-1';

/**
 * The Avro schema of a table's envelope. Every column is optional (a union with null, default null)
 * whatever its NOT NULL: so that ADD COLUMN and DROP COLUMN always give a BACKWARD-compatible next
 * version, and a delete's before image (the key only) fits the same record. Debezium makes NOT NULL
 * columns required instead (docs/ingest.md lists the differences).
 */
export function envelopeSchema(topic: string, table: CapturedTable): Record<string, unknown> {
  const namespace = topic
    .split('.')
    .map((part) => part.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_'))
    .join('.');
  const value = {
    type: 'record',
    name: 'Value',
    namespace,
    fields: supported(table.columns).map((c) => ({
      name: c.field,
      type: ['null', (c.mapping as { avro: unknown }).avro],
      default: null,
    })),
    'connect.name': `${namespace}.Value`,
  };
  const optional = (type: unknown) => ['null', type];
  return {
    type: 'record',
    name: 'Envelope',
    namespace,
    'connect.name': `${namespace}.Envelope`,
    fields: [
      { name: 'before', type: optional(value), default: null },
      { name: 'after', type: optional('Value'), default: null },
      {
        name: 'source',
        type: {
          type: 'record',
          name: 'Source',
          namespace: 'io.debezium.connector.postgresql',
          fields: [
            { name: 'version', type: 'string' },
            { name: 'connector', type: 'string' },
            { name: 'name', type: 'string' },
            { name: 'ts_ms', type: 'long' },
            {
              name: 'snapshot',
              type: [{ type: 'string', 'connect.name': 'io.debezium.data.Enum' }, 'null'],
              default: 'false',
            },
            { name: 'db', type: 'string' },
            { name: 'sequence', type: optional('string'), default: null },
            { name: 'ts_us', type: optional('long'), default: null },
            { name: 'ts_ns', type: optional('long'), default: null },
            { name: 'schema', type: 'string' },
            { name: 'table', type: 'string' },
            { name: 'txId', type: optional('long'), default: null },
            { name: 'lsn', type: optional('long'), default: null },
            { name: 'xmin', type: optional('long'), default: null },
          ],
          'connect.name': 'io.debezium.connector.postgresql.Source',
        },
      },
      {
        name: 'transaction',
        type: optional({
          type: 'record',
          name: 'block',
          namespace: 'event',
          fields: [
            { name: 'id', type: 'string' },
            { name: 'total_order', type: 'long' },
            { name: 'data_collection_order', type: 'long' },
          ],
        }),
        default: null,
      },
      { name: 'op', type: 'string' },
      { name: 'ts_ms', type: optional('long'), default: null },
      { name: 'ts_us', type: optional('long'), default: null },
      { name: 'ts_ns', type: optional('long'), default: null },
    ],
  };
}

/** The columns the schema holds: those of a type Kappa captures. */
export function supported(columns: readonly CapturedColumn[]): CapturedColumn[] {
  return columns.filter((c) => !('unsupported' in c.mapping));
}

/**
 * A row's Avro value from its text columns. An unchanged TOAST value is taken from `previous` (the
 * before image, with REPLICA IDENTITY FULL) or becomes Debezium's placeholder. A non-null value in a
 * column of an unsupported type, or one that does not parse, throws CdcRowError naming the column.
 */
export function rowValue(
  table: CapturedTable,
  tuple: readonly ColumnValue[],
  previous: readonly ColumnValue[] | null = null,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  table.columns.forEach((column, i) => {
    let text = tuple[i] ?? null;
    if (text === UNCHANGED_TOAST) text = previous?.[i] ?? UNCHANGED_TOAST;
    if ('unsupported' in column.mapping) {
      if (text !== null)
        throw new CdcRowError(
          `Column ${column.name} of ${table.id} is of type ${column.mapping.unsupported}, which Kappa does not capture`,
          { table: table.id, column: column.name, type: column.mapping.unsupported },
        );
      return;
    }
    if (text === null) row[column.field] = null;
    else if (text === UNCHANGED_TOAST)
      row[column.field] =
        column.mapping.avro === 'bytes' ? Buffer.from(UNAVAILABLE_VALUE) : UNAVAILABLE_VALUE;
    else {
      try {
        row[column.field] = column.mapping.parse(text);
      } catch (error) {
        throw new CdcRowError(
          `Column ${column.name} of ${table.id} (${column.sqlType}): ${(error as Error).message}`,
          { table: table.id, column: column.name, type: column.sqlType },
        );
      }
    }
  });
  return row;
}

/** The record key: the key columns' values as a JSON object, as Kafka Connect's JsonConverter writes a key struct. */
export function keyOf(table: CapturedTable, row: Record<string, unknown>): Buffer {
  const key: Record<string, unknown> = {};
  for (const name of table.key) {
    const column = table.columns.find((c) => c.name === name)!;
    const value = row[column.field];
    const codec = column.mapping as { json?: (v: unknown) => unknown };
    key[column.field] =
      value === null || value === undefined || !codec.json ? (value ?? null) : codec.json(value);
  }
  return Buffer.from(JSON.stringify(key));
}

export function envelope(
  op: Op,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  source: ChangeSource,
  now = Date.now(),
): Record<string, unknown> {
  return {
    before,
    after,
    source: {
      version: KAPPA_CDC_VERSION,
      connector: 'postgresql',
      name: source.name,
      ts_ms: source.tsMs,
      snapshot: source.snapshot,
      db: source.db,
      sequence:
        source.lsn === null
          ? null
          : JSON.stringify([
              source.lastCommitLsn === null ? null : String(source.lastCommitLsn),
              String(source.lsn),
            ]),
      ts_us: source.tsMs * 1000,
      // Nanoseconds since 1970 pass 2^53, which an avsc long (a JavaScript number) cannot hold.
      ts_ns: null,
      schema: source.schema,
      table: source.table,
      txId: source.txId,
      lsn: source.lsn === null ? null : Number(source.lsn),
      xmin: null,
    },
    transaction: null,
    op,
    ts_ms: now,
    ts_us: now * 1000,
    ts_ns: null,
  };
}
