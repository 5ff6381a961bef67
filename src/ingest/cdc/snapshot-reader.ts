import type pg from 'pg';
import type { ColumnValue } from './pgoutput.ts';
import { quoteIdent } from './sql-names.ts';
import { type CapturedTable, qualified } from './table-schema.ts';

/**
 * Reads tables as one exported snapshot sees them (the replication slot's, so the stream takes up
 * exactly where the snapshot ends), in key order, a page at a time: a page is what one bus
 * transaction writes, and the last key of each is where a snapshot cut short resumes.
 */
export class SnapshotReader {
  readonly #client: pg.Client;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  /** Opens a repeatable-read transaction on `client` that sees what the exported snapshot saw. */
  static async open(client: pg.Client, snapshotName: string): Promise<SnapshotReader> {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replaceAll("'", "''")}'`);
    return new SnapshotReader(client);
  }

  /** The planner's estimate of a table's rows (for progress; -1 when never analysed). */
  async estimate(table: CapturedTable): Promise<number> {
    const { rows } = await this.#client.query<{ n: string }>(
      'SELECT reltuples::bigint::text AS n FROM pg_class WHERE oid = $1::regclass',
      [qualified(table)],
    );
    return Number(rows[0]?.n ?? -1);
  }

  /** Up to `limit` rows after key `after` (null: from the start), every column as text, in key order. */
  async page(table: CapturedTable, after: readonly string[] | null, limit: number): Promise<ColumnValue[][]> {
    const keys = table.key.map(quoteIdent);
    const types = table.key.map((k) => table.columns.find((c) => c.name === k)!.sqlType);
    const where =
      after === null
        ? ''
        : `WHERE (${keys.join(', ')}) > (${types.map((t, i) => `$${i + 1}::${t}`).join(', ')})`;
    const result = await this.#client.query<ColumnValue[]>({
      text: `SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${qualified(table)} ${where} ORDER BY ${keys.join(', ')} LIMIT ${limit}`,
      values: after === null ? [] : [...after],
      rowMode: 'array',
    });
    return result.rows;
  }

  async close(): Promise<void> {
    await this.#client.query('COMMIT').catch(() => {});
  }
}

/**
 * Whether key `a` sorts at or before key `b` by the key columns' own ordering (collations, numeric
 * order), asked of PostgreSQL: only for changes streamed while a resumed snapshot's segments overlap.
 */
export async function keyAtOrBefore(
  client: pg.Client,
  table: CapturedTable,
  a: readonly ColumnValue[],
  b: readonly string[],
): Promise<boolean> {
  const types = table.key.map((k) => table.columns.find((c) => c.name === k)!.sqlType);
  const n = types.length;
  const { rows } = await client.query<{ le: string }>(
    `SELECT (ROW(${types.map((t, i) => `$${i + 1}::${t}`).join(', ')}) <= ROW(${types.map((t, i) => `$${n + i + 1}::${t}`).join(', ')}))::text AS le`,
    [...a.map((v) => (typeof v === 'string' ? v : null)), ...b],
  );
  return rows[0]!.le === 'true';
}
