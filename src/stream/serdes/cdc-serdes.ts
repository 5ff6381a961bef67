import { InvalidArgumentError } from '../../core/index.ts';
import { WireSerde } from '../../registry/index.ts';
import { table } from '../dsl/pipeline.ts';
import type { Table } from '../dsl/steps.ts';
import type { Serde } from './serde.ts';

/** A Debezium change event, as Kappa's CDC topics hold them (docs/ingest.md). */
export interface ChangeEvent<Row> {
  op: 'r' | 'c' | 'u' | 'd' | 't';
  before: Row | null;
  after: Row | null;
  source: {
    name: string;
    db: string;
    schema: string;
    table: string;
    ts_ms: number;
    snapshot: string | null;
    txId: number | null;
    lsn: number | null;
  };
  ts_ms: number | null;
}

/**
 * Values in Confluent's wire format, decoded with the schema their header names, from the registry
 * of the process the pipeline runs in (bound by the runner). Read-only: pipelines write results in
 * their own serdes.
 */
function wireFormat<T>(what: string, read: (value: unknown) => T): Serde<T> {
  let serde: WireSerde | null = null;
  return {
    bind: ({ registry }) => {
      serde = new WireSerde(registry);
    },
    decode: (bytes) => {
      if (!serde)
        throw new Error(`${what} needs the schema registry: run the pipeline with kappa up or kappa worker`);
      return read(serde.deserialize(bytes).value);
    },
    encode: () => {
      throw new InvalidArgumentError(`${what} only reads: write results with another serde`);
    },
  };
}

/** The change events of a CDC topic (`<source>.<schema>.<table>`): op, before, after, source. */
export function changes<Row = Record<string, unknown>>(): Serde<ChangeEvent<Row>> {
  return wireFormat('changes()', (value) => value as ChangeEvent<Row>);
}

/**
 * A CDC topic as a table to join with: each key's row as it is now (a delete or a truncate leaves
 * none). Its keys are the key columns as JSON, `{"id":42}`, so a join's key function returns them
 * as an object, in the table's key order: `.join(cdcTable('shop.public.customers'), (o) => ({ id: o.customer }), …)`.
 */
export function cdcTable<Row = Record<string, unknown>>(topic: string): Table<Row> {
  return table(topic, {
    serde: wireFormat('cdcTable()', (value) => ((value as ChangeEvent<Row>).after ?? null) as Row),
  });
}
