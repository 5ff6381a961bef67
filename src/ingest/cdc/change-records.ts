import { KappaError, type ProducerRecord } from '../../core/index.ts';
import type { SchemaRegistry, WireSerde } from '../../registry/index.ts';
import { deadLetterRecord, describeError, letterValue } from '../../stream/index.ts';
import { CdcRowError } from './cdc-errors.ts';
import { type ChangeSource, envelope, envelopeSchema, keyOf, type Op, rowValue } from './envelope.ts';
import type { ColumnValue } from './pgoutput.ts';
import type { CapturedTable } from './table-schema.ts';

export interface ChangeRecordsOptions {
  /** The source's name: the topics' prefix, `source.name` in envelopes. */
  source: string;
  registry: SchemaRegistry;
  serde: WireSerde;
  deadLetterTopic: string;
  maxRecordBytes: number;
}

/** One change as the stream or the snapshot gives it: text columns, before and after. */
export interface Change {
  table: CapturedTable;
  op: 'r' | 'c' | 'u' | 'd';
  before: readonly ColumnValue[] | null;
  /** The before image holds the key columns only (default replica identity). */
  beforeKeyOnly: boolean;
  after: readonly ColumnValue[] | null;
  source: ChangeSource;
}

/** A record and the key it is for (the key decides which snapshot segment it belongs to). */
export interface KeyedRecord {
  record: ProducerRecord;
  /** The key columns' text values, for the snapshot filter; null for records about no row (a dead letter). */
  keyText: readonly ColumnValue[] | null;
}

/** The key of a truncate event: Debezium's has none, which a compacted topic does not take. */
export const TRUNCATE_KEY = '{}';

/** The topic of each captured table: `<source>.<schema>.<table>`, as Debezium names them. */
export function cdcTopic(source: string, table: { schema: string; table: string }): string {
  return `${source}.${table.schema}.${table.table}`;
}

/**
 * Turns changes into the records of the table's topic: Debezium envelopes in Avro, framed with the
 * id of the table's schema in the registry (a new version when the table's columns change), keyed
 * by the key columns; a delete is followed by a tombstone, and an update that changes the key is a
 * delete of the old key and a create of the new, as Debezium writes them. A change that cannot
 * become a record goes to the dead-letter topic, naming why.
 */
export class ChangeRecords {
  readonly #o: ChangeRecordsOptions;
  /** Schema ids by schema text: registering is done once per shape of each table. */
  readonly #ids = new Map<string, number>();
  readonly #tableIds = new WeakMap<CapturedTable, number>();

  constructor(options: ChangeRecordsOptions) {
    this.#o = options;
  }

  /** The id of the table's envelope schema as its columns are now, registered when new. */
  async schemaId(table: CapturedTable): Promise<number> {
    const topic = cdcTopic(this.#o.source, table);
    const schema = JSON.stringify(envelopeSchema(topic, table));
    let id = this.#ids.get(schema);
    if (id === undefined) {
      id = await this.#o.registry.register(`${topic}-value`, { schemaType: 'AVRO', schema, references: [] });
      this.#ids.set(schema, id);
    }
    this.#tableIds.set(table, id);
    return id;
  }

  /** The records of one change. `schemaId` must have been awaited for the table's current shape. */
  records(change: Change): KeyedRecord[] {
    const { table } = change;
    const topic = cdcTopic(this.#o.source, table);
    const id = this.#tableIds.get(table);
    if (id === undefined) throw new Error(`No schema registered for ${table.id} as it is now`);
    try {
      const before = change.before && rowValue(table, change.before);
      const after =
        change.after && rowValue(table, change.after, change.beforeKeyOnly ? null : change.before);
      const value = (op: Op, b: typeof before, a: typeof after) =>
        this.#o.serde.serialize(id, envelope(op, b, a, change.source));
      const keyText = (tuple: readonly ColumnValue[]) =>
        table.key.map((k) => tuple[table.columns.findIndex((c) => c.name === k)] ?? null);
      const out: KeyedRecord[] = [];
      const put = (key: Buffer, v: Buffer | null, text: readonly ColumnValue[]) => {
        const bytes = key.length + (v?.length ?? 0);
        if (bytes > this.#o.maxRecordBytes)
          throw new CdcRowError(
            `A change of ${table.id} is ${bytes} bytes as a record, more than log.maxRecordBytes (${this.#o.maxRecordBytes})`,
            { table: table.id, bytes },
          );
        out.push({ record: { topic, key, value: v, timestamp: change.source.tsMs }, keyText: text });
      };
      const remove = (row: Record<string, unknown>, text: readonly ColumnValue[]) => {
        const key = keyOf(table, row);
        put(key, value('d', row, null), text);
        put(key, null, text);
      };
      if (change.op === 'd') remove(before!, keyText(change.before!));
      else if (change.op === 'u' && before && keyOf(table, before).compare(keyOf(table, after!)) !== 0) {
        remove(before, keyText(change.before!));
        put(keyOf(table, after!), value('c', null, after), keyText(change.after!));
      } else
        put(
          keyOf(table, after!),
          value(change.op, change.op === 'u' ? before : null, after),
          keyText(change.after!),
        );
      return out;
    } catch (error) {
      // A row that does not fit (CdcRowError), or a value its schema refuses (RecordInvalidError).
      if (!(error instanceof KappaError) || error.blame !== 'data') throw error;
      return [{ record: this.#deadLetter(change, topic, error), keyText: null }];
    }
  }

  /** Debezium's `t` event, keyed {@link TRUNCATE_KEY} and followed by its tombstone (so compaction drops it). */
  truncate(table: CapturedTable, source: ChangeSource): ProducerRecord[] {
    const topic = cdcTopic(this.#o.source, table);
    const key = Buffer.from(TRUNCATE_KEY);
    const value = this.#o.serde.serialize(this.#tableIds.get(table)!, envelope('t', null, null, source));
    return [
      { topic, key, value, timestamp: source.tsMs },
      { topic, key, value: null, timestamp: source.tsMs },
    ];
  }

  #deadLetter(change: Change, topic: string, error: KappaError): ProducerRecord {
    const text = (tuple: readonly ColumnValue[] | null) =>
      tuple &&
      Object.fromEntries(
        change.table.columns.map((c, i) => [
          c.name,
          typeof tuple[i] === 'symbol' ? '(unchanged TOAST)' : tuple[i],
        ]),
      );
    const row = Buffer.from(
      JSON.stringify({ op: change.op, before: text(change.before), after: text(change.after) }),
    );
    const { errorClass, message } = describeError(error);
    return deadLetterRecord(this.#o.deadLetterTopic, {
      reason: 'error',
      pipeline: `cdc:${this.#o.source}`,
      step: change.table.id,
      errorClass,
      message,
      topic,
      partition: -1,
      offset: -1,
      key: null,
      ...letterValue(row),
      kind: 'result',
    });
  }
}
