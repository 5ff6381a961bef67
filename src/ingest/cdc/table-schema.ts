import type pg from 'pg';
import postgresArray from 'postgres-array';
import { CdcSetupError } from './cdc-errors.ts';
import { type ColumnMapping, columnMapping, type PgType } from './column-types.ts';
import { quoteIdent } from './sql-names.ts';

/** A captured table's column. */
export interface CapturedColumn {
  name: string;
  /** The Avro field name: the column's name with what Avro does not allow in names as '_'. */
  field: string;
  typeOid: number;
  typeMod: number;
  /** format_type(type, typmod): what a cast to the column's type says. */
  sqlType: string;
  mapping: ColumnMapping;
}

/** What capture needs to know about a table: its columns as the stream describes them, and its key. */
export interface CapturedTable {
  schema: string;
  table: string;
  /** `schema.table`, as sources name tables. */
  id: string;
  columns: CapturedColumn[];
  /** The key's column names, in the key's order: the primary key, else the replica identity index. */
  key: string[];
  /** d(efault), n(othing), f(ull), i(ndex). */
  replicaIdentity: string;
}

/** `orders` or `public.orders`, as a source's config names a table. */
export function tableId(name: string): { schema: string; table: string; id: string } {
  const dot = name.indexOf('.');
  const schema = dot < 0 ? 'public' : name.slice(0, dot);
  const table = dot < 0 ? name : name.slice(dot + 1);
  return { schema, table, id: `${schema}.${table}` };
}

/** Reads tables' columns and keys from the catalogue; a table missing or without a key is a CdcSetupError. */
export async function readTables(client: pg.Client, names: readonly string[]): Promise<CapturedTable[]> {
  const tables: CapturedTable[] = [];
  for (const name of names) {
    const { schema, table, id } = tableId(name);
    const found = await client.query<{ oid: number; relreplident: string; relkind: string }>(
      `SELECT c.oid, c.relreplident, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    );
    const row = found.rows[0];
    if (!row || !['r', 'p'].includes(row.relkind))
      throw new CdcSetupError(`Table ${id} does not exist in the source database`);
    const columns = await client.query<{
      attname: string;
      atttypid: number;
      atttypmod: number;
      sqltype: string;
    }>(
      `SELECT attname, atttypid::int4 AS atttypid, atttypmod, format_type(atttypid, atttypmod) AS sqltype
         FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [row.oid],
    );
    const key = await keyColumns(client, row.oid, row.relreplident, id);
    // connectSource's client returns every value as text.
    const described = columns.rows.map((c) => ({
      ...c,
      atttypid: Number(c.atttypid),
      atttypmod: Number(c.atttypmod),
    }));
    const types = await readTypes(
      client,
      described.map((c) => c.atttypid),
    );
    tables.push({
      schema,
      table,
      id,
      key,
      replicaIdentity: row.relreplident,
      columns: described.map((c) =>
        capturedColumn(c.attname, c.atttypid, c.atttypmod, c.sqltype, types.get(c.atttypid)!),
      ),
    });
  }
  return tables;
}

export function capturedColumn(
  name: string,
  typeOid: number,
  typeMod: number,
  sqlType: string,
  type: PgType,
): CapturedColumn {
  return { name, field: avroName(name), typeOid, typeMod, sqlType, mapping: columnMapping(type, typeMod) };
}

/**
 * The key: the primary key's columns, else those of the replica identity index. A table with
 * neither is refused: its updates and deletes could not name the row they change (and PostgreSQL
 * refuses them anyway once the table is in a publication that publishes them).
 */
async function keyColumns(client: pg.Client, oid: number, identity: string, id: string): Promise<string[]> {
  // Every value comes back as text (connectSource): the boolean as t/f, the names as an array literal.
  const { rows } = await client.query<{ primary: string; columns: string }>(
    `SELECT i.indisprimary AS primary,
            array_agg(a.attname ORDER BY k.ord)::text[] AS columns
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
      GROUP BY i.indexrelid, i.indisprimary`,
    [oid],
  );
  const indexes = rows.map((r) => ({ primary: r.primary === 't', columns: postgresArray.parse(r.columns) }));
  const chosen =
    indexes.find((r) => r.primary) ?? (identity === 'i' ? indexes.find((r) => !r.primary) : undefined);
  if (!chosen)
    throw new CdcSetupError(
      `Table ${id} has no primary key: give it one, or a unique index as its replica identity (ALTER TABLE ${id} REPLICA IDENTITY USING INDEX …), so that each change names its row`,
    );
  if (identity === 'n')
    throw new CdcSetupError(
      `Table ${id} has REPLICA IDENTITY NOTHING: its updates and deletes carry no key. ALTER TABLE ${id} REPLICA IDENTITY DEFAULT (or FULL)`,
    );
  return chosen.columns;
}

/** Types by oid, with domains resolved to their base type and arrays to their element type. */
export async function readTypes(client: pg.Client, oids: readonly number[]): Promise<Map<number, PgType>> {
  const types = new Map<number, PgType>();
  const describe = async (oid: number): Promise<PgType> => {
    const known = types.get(oid);
    if (known) return known;
    const { rows } = await client.query<{
      name: string;
      typtype: string;
      typelem: number;
      typbasetype: number;
      typcategory: string;
      nspname: string;
    }>(
      `SELECT format_type(t.oid, NULL) AS name, t.typtype, t.typelem::int4 AS typelem,
              t.typbasetype::int4 AS typbasetype, t.typcategory, n.nspname
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1`,
      [oid],
    );
    const row = rows[0];
    if (!row) throw new CdcSetupError(`Column type ${oid} is not in pg_type`);
    let type: PgType;
    if (row.typtype === 'd') type = { ...(await describe(Number(row.typbasetype))), oid };
    else if (row.typcategory === 'A' && Number(row.typelem) !== 0)
      type = { oid, name: row.name, kind: row.typtype, element: await describe(Number(row.typelem)) };
    else type = { oid, name: row.name, kind: row.typtype, element: null };
    types.set(oid, type);
    return type;
  };
  for (const oid of oids) await describe(oid);
  return types;
}

/** Avro names are [A-Za-z_][A-Za-z0-9_]*: anything else becomes '_' (Debezium's field.name.adjustment.mode=avro). */
export function avroName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/** `"schema"."table"`. */
export function qualified(table: { schema: string; table: string }): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}
