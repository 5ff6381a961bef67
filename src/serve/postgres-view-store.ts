import { createHmac } from 'node:crypto';
import pg from 'pg';
import { InvalidArgumentError, TimeoutError } from '../core/index.ts';
import { cacheKey } from './view-cache.ts';
import { missingColumn, quoteIdent } from './view-columns.ts';
import {
  QueryInvalidError,
  QueryRefusedError,
  UnknownViewError,
  ViewStoreConflictError,
  ViewStoreError,
} from './view-errors.ts';
import type {
  ActiveView,
  ColumnType,
  QueryOptions,
  QueryResult,
  StoredRow,
  ViewBatch,
  ViewDefinition,
  ViewStore,
} from './view-store.ts';

const SQL_TYPES: Record<ColumnType, string> = {
  integer: 'BIGINT',
  number: 'DOUBLE PRECISION',
  string: 'TEXT',
  boolean: 'BOOLEAN',
  json: 'JSONB',
};

/** Result column types by OID, for the query API's column list; others are `unknown`. */
const TYPE_NAMES: Record<number, string> = {
  16: 'BOOLEAN',
  20: 'BIGINT',
  21: 'SMALLINT',
  23: 'INTEGER',
  25: 'TEXT',
  114: 'JSON',
  700: 'REAL',
  701: 'DOUBLE PRECISION',
  1043: 'VARCHAR',
  1082: 'DATE',
  1114: 'TIMESTAMP',
  1184: 'TIMESTAMPTZ',
  1700: 'NUMERIC',
  3802: 'JSONB',
};
const NUMBER_OIDS = new Set([20, 21, 23, 700, 701, 1700]);
/** How long the list of views (which other processes may add to) is taken as it is. */
const REFRESH_MS = 2000;

/** PostgreSQL's statements other than reads: a query beginning with one is refused, not called invalid. */
const STATEMENTS = new Set(
  'abort alter analyze attach begin call checkpoint close cluster comment commit copy create deallocate declare delete detach discard do drop end execute explain fetch grant import insert install listen load lock merge move notify prepare reassign refresh reindex release reset revoke rollback savepoint security set show start truncate unlisten update vacuum'.split(
    ' ',
  ),
);

export interface PostgresViewStoreOptions {
  /** The database views live in: a role that may create a schema, tables and (without `queryUrl`) a role. */
  url: string;
  /**
   * Queries run as this role; it needs only SELECT on the views. Default: a role `<schema>_query`
   * that Kappa makes (LOGIN, no other privilege) with a password derived from `url`, so every
   * process of one deployment agrees on it.
   */
  queryUrl?: string;
  /** The schema views and Kappa's tables go in. Default `kappa`. */
  schema?: string;
  /** Connections that answer queries. Default 4. */
  readers?: number;
}

/**
 * Views in PostgreSQL, for the distributed shape: `kappa worker` processes write, any number of API
 * processes read. A batch is one transaction that takes the view's advisory lock first, so two
 * materializers of one view apply their batches one after the other, and the second finds its
 * offsets taken (ViewStoreConflictError).
 *
 * Queries are read-only for real: they run as a role with no privilege but SELECT on the views
 * (so `pg_read_file`, `COPY … TO` a file, `lo_import` and `SET ROLE` back are denied by PostgreSQL
 * itself), in a READ ONLY transaction with a statement timeout, one statement that must begin with
 * SELECT, WITH, VALUES or TABLE.
 */
export class PostgresViewStore implements ViewStore {
  readonly kind = 'postgres' as const;
  readonly #owner: pg.Pool;
  readonly #readers: pg.Pool;
  readonly #schema: string;
  readonly #queryRole: string | null;
  readonly #views = new Map<string, ViewDefinition>();
  #refreshed = 0;

  private constructor(owner: pg.Pool, readers: pg.Pool, schema: string, queryRole: string | null) {
    this.#owner = owner;
    this.#readers = readers;
    this.#schema = schema;
    this.#queryRole = queryRole;
  }

  static async open(options: PostgresViewStoreOptions): Promise<PostgresViewStore> {
    const schema = options.schema ?? 'kappa';
    if (!/^[a-z_][a-z0-9_]{0,50}$/.test(schema))
      throw new InvalidArgumentError(
        `Invalid schema name ${JSON.stringify(schema)}: lower-case letters, digits, '_'`,
      );
    const owner = new pg.Pool({ connectionString: options.url, max: 4 });
    owner.on('error', () => {}); // an idle client's lost connection: the next query reconnects
    const s = quoteIdent(schema);
    const queryRole = options.queryUrl === undefined ? `${schema}_query` : null;
    const password = createHmac('sha256', options.url)
      .update(queryRole ?? '')
      .digest('hex');
    try {
      // One process at a time: processes starting together race on CREATE … IF NOT EXISTS (a
      // unique violation in the catalogue), and CREATE ROLE has no IF NOT EXISTS at all.
      await transaction(owner, 'set up the view database', async (c) => {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('kappa_view_store_setup'))");
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${s}._kappa_views (name TEXT PRIMARY KEY, definition JSONB NOT NULL)`,
        );
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${s}._kappa_view_offsets (view TEXT, "partition" INTEGER, next_offset BIGINT NOT NULL, PRIMARY KEY (view, "partition"))`,
        );
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${s}._kappa_view_active (view TEXT PRIMARY KEY, "table" TEXT NOT NULL, held INTEGER NOT NULL DEFAULT 0)`,
        );
        if (queryRole === null) return;
        const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [queryRole]);
        const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
        await c.query(
          `${verb} ROLE ${quoteIdent(queryRole)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION PASSWORD '${password}'`,
        );
        await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${quoteIdent(queryRole)}`);
      });
      let queryUrl = options.queryUrl;
      if (queryRole !== null) {
        const url = new URL(options.url);
        url.username = queryRole;
        url.password = password;
        queryUrl = url.toString();
      }
      const readers = new pg.Pool({ connectionString: queryUrl, max: options.readers ?? 4 });
      readers.on('error', () => {});
      const store = new PostgresViewStore(owner, readers, schema, queryRole);
      for (const { definition } of (await owner.query(`SELECT definition FROM ${s}._kappa_views`)).rows)
        store.#views.set((definition as ViewDefinition).name, definition as ViewDefinition);
      return store;
    } catch (error) {
      await owner.end().catch(() => {});
      throw new ViewStoreError(`Cannot open the view database: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async define(definition: ViewDefinition): Promise<ViewDefinition> {
    const s = quoteIdent(this.#schema);
    const table = this.#table(definition.name);
    const stored = await this.#transaction(`define view '${definition.name}'`, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kappa_view:${definition.name}`]);
      const found = await c.query(`SELECT definition FROM ${s}._kappa_views WHERE name = $1`, [
        definition.name,
      ]);
      if (found.rowCount !== 0) return found.rows[0].definition as ViewDefinition;
      const columns = [
        `key ${SQL_TYPES[definition.key]} NOT NULL`,
        'window_start TIMESTAMPTZ NOT NULL',
        'window_end TIMESTAMPTZ NOT NULL',
        'kind TEXT NOT NULL',
        ...definition.columns.map((col) => `${quoteIdent(col.name)} ${SQL_TYPES[col.type]}`),
        'PRIMARY KEY (key, window_start, window_end)',
      ];
      await c.query(`CREATE TABLE ${table} (${columns.join(', ')})`);
      await c.query(`INSERT INTO ${s}._kappa_views VALUES ($1, $2)`, [
        definition.name,
        JSON.stringify(definition),
      ]);
      // No SELECT for the query role: queries read a version through the view that points at it
      // (activate), which runs with the owner's rights, so a version being built stays out of sight.
      return definition;
    });
    this.#views.set(stored.name, stored);
    return stored;
  }

  async views(): Promise<ViewDefinition[]> {
    // Other processes define views too; a lookup's path should not cost a query each time.
    if (Date.now() - this.#refreshed > REFRESH_MS) await this.#refresh();
    return [...this.#views.values()];
  }

  async offsets(view: string): Promise<Map<number, number>> {
    const result = await this.#query(
      `SELECT "partition", next_offset FROM ${quoteIdent(this.#schema)}._kappa_view_offsets WHERE view = $1`,
      [view],
    );
    return new Map(result.rows.map((r) => [Number(r.partition), Number(r.next_offset)]));
  }

  async apply(view: string, batch: ViewBatch): Promise<void> {
    const definition = await this.#definition(view);
    const s = quoteIdent(this.#schema);
    const table = this.#table(view);
    const keyType = SQL_TYPES[definition.key];
    await this.#transaction(`apply a batch to view '${view}'`, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kappa_view:${view}`]);
      const stored = new Map(
        (
          await c.query(`SELECT "partition", next_offset FROM ${s}._kappa_view_offsets WHERE view = $1`, [
            view,
          ])
        ).rows.map((r) => [Number(r.partition), Number(r.next_offset)]),
      );
      for (const p of batch.progress) {
        const at = stored.get(p.partition) ?? 0;
        if (at !== p.from) throw new ViewStoreConflictError(view, p.partition, p.from, at);
      }
      if (batch.upserts.length > 0) {
        const cols = definition.columns;
        const names = [
          'key',
          'window_start',
          'window_end',
          'kind',
          ...cols.map((col) => quoteIdent(col.name)),
        ];
        const arrays = [
          batch.upserts.map((r) => sqlValue(definition.key, r.key)),
          batch.upserts.map((r) => r.windowStart),
          batch.upserts.map((r) => r.windowEnd),
          batch.upserts.map((r) => r.kind),
          ...cols.map((col) => batch.upserts.map((r) => sqlValue(col.type, r.values[col.name] ?? null))),
        ];
        const types = [
          keyType,
          'DOUBLE PRECISION',
          'DOUBLE PRECISION',
          'TEXT',
          ...cols.map((col) => SQL_TYPES[col.type]),
        ];
        const select = names.map((_, i) =>
          i === 1 || i === 2 ? `to_timestamp(u.c${i} / 1000.0)` : `u.c${i}`,
        );
        const update = names.slice(3).map((n) => `${n} = EXCLUDED.${n}`);
        await c.query(
          `INSERT INTO ${table} (${names.join(', ')}) SELECT ${select.join(', ')} FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${names.map((_, i) => `c${i}`).join(', ')}) ON CONFLICT (key, window_start, window_end) DO UPDATE SET ${update.join(', ')}`,
          arrays,
        );
      }
      if (batch.deletes.length > 0)
        await c.query(
          `DELETE FROM ${table} AS t USING unnest($1::${keyType}[], $2::DOUBLE PRECISION[], $3::DOUBLE PRECISION[]) AS d(k, ws, we) WHERE t.key = d.k AND t.window_start = to_timestamp(d.ws / 1000.0) AND t.window_end = to_timestamp(d.we / 1000.0)`,
          [
            batch.deletes.map((d) => sqlValue(definition.key, d.key)),
            batch.deletes.map((d) => d.windowStart),
            batch.deletes.map((d) => d.windowEnd),
          ],
        );
      if (batch.expireBefore !== undefined)
        await c.query(`DELETE FROM ${table} WHERE window_end < to_timestamp($1 / 1000.0)`, [
          batch.expireBefore,
        ]);
      if (batch.progress.length > 0)
        await c.query(
          `INSERT INTO ${s}._kappa_view_offsets SELECT $1, p, o FROM unnest($2::INTEGER[], $3::BIGINT[]) AS u(p, o) ON CONFLICT (view, "partition") DO UPDATE SET next_offset = EXCLUDED.next_offset`,
          [view, batch.progress.map((p) => p.partition), batch.progress.map((p) => p.to)],
        );
    });
  }

  async latest(view: string, key: unknown): Promise<StoredRow | null> {
    const definition = await this.#definition(view);
    const rows = await this.#select(
      definition,
      `WHERE key = $1::${SQL_TYPES[definition.key]} ORDER BY window_end DESC LIMIT 1`,
      [sqlValue(definition.key, key)],
    );
    return rows[0] ?? null;
  }

  async latestEnds(view: string, keys: readonly unknown[]): Promise<Map<string, number>> {
    const definition = await this.#definition(view);
    if (keys.length === 0) return new Map();
    const result = await this.#query(
      `SELECT key, (extract(epoch FROM max(window_end)) * 1000)::BIGINT AS e FROM ${this.#table(view)} WHERE key = ANY($1::${SQL_TYPES[definition.key]}[]) GROUP BY key`,
      [keys.map((k) => sqlValue(definition.key, k))],
      'array',
    );
    return new Map(
      (result.rows as unknown[][]).map(
        ([k, e]) => [cacheKey(fromSql(definition.key, k)), Number(e)] as const,
      ),
    );
  }

  async range(view: string, key: unknown, from: number, to: number): Promise<StoredRow[]> {
    const definition = await this.#definition(view);
    return this.#select(
      definition,
      `WHERE key = $1::${SQL_TYPES[definition.key]} AND window_start >= to_timestamp($2 / 1000.0) AND window_start < to_timestamp($3 / 1000.0) ORDER BY window_start`,
      // PostgreSQL's timestamps span 4713 BC to 294276 AD.
      [sqlValue(definition.key, key), Math.max(from, -2.1e14), Math.min(to, 8.2e15)],
    );
  }

  async top(view: string, by: string, n: number, windowStart?: number): Promise<StoredRow[]> {
    const definition = await this.#definition(view);
    const missing = missingColumn(definition, by);
    if (missing) throw new InvalidArgumentError(missing);
    const at =
      windowStart === undefined
        ? `(SELECT max(window_start) FROM ${this.#table(view)})`
        : 'to_timestamp($1 / 1000.0)';
    return this.#select(
      definition,
      `WHERE window_start = ${at} ORDER BY ${quoteIdent(by)} DESC NULLS LAST, key LIMIT ${Math.trunc(n)}`,
      windowStart === undefined ? [] : [windowStart],
    );
  }

  async rowCount(view: string): Promise<number> {
    await this.#definition(view);
    const result = await this.#query(`SELECT count(*) AS n FROM ${this.#table(view)}`);
    return Number(result.rows[0].n);
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const body = sql.trim().replace(/;\s*$/, '');
    const first = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/|\()*([a-zA-Z]+)/.exec(body)?.[1]?.toLowerCase();
    if (first === undefined || !['select', 'with', 'values', 'table'].includes(first)) {
      if (first !== undefined && !STATEMENTS.has(first))
        throw new QueryInvalidError(`${JSON.stringify(first)} does not begin an SQL statement`);
      throw new QueryRefusedError(
        `Queries are read-only: a statement beginning with ${JSON.stringify(first ?? body.slice(0, 20))} is refused (views change only through their pipelines)`,
      );
    }
    const client = await this.#readers.connect().catch((error: unknown) => {
      throw new ViewStoreError(`Cannot reach the view database: ${(error as Error).message}`, {
        cause: error,
      });
    });
    let broken = false;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.trunc(options.timeoutMs))}`);
      await client.query(`SET LOCAL search_path = ${quoteIdent(this.#schema)}`);
      const result = await client.query({
        text: `SELECT * FROM (\n${body}\n) AS kappa_query LIMIT ${Math.trunc(options.maxRows) + 1}`,
        values: [...(options.params ?? [])],
        rowMode: 'array',
        queryMode: 'extended',
      } as pg.QueryConfig & { queryMode: 'extended' });
      const truncated = result.rows.length > options.maxRows;
      return {
        columns: result.fields.map((f) => ({ name: f.name, type: TYPE_NAMES[f.dataTypeID] ?? 'unknown' })),
        rows: (result.rows as unknown[][])
          .slice(0, options.maxRows)
          .map((row) => row.map((v, i) => jsonValue(v, result.fields[i]!.dataTypeID))),
        truncated,
      };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '57014')
        throw new TimeoutError(`The query took longer than ${options.timeoutMs} ms and was stopped`);
      if (code === '42501' || code === '25006' || code === '0A000')
        throw new QueryRefusedError(`Queries may only read views: ${(error as Error).message}`);
      if (code !== undefined && /^(42|22|21|2F|39|0A|54)/.test(code))
        throw new QueryInvalidError((error as Error).message, { cause: error });
      broken = code === undefined;
      throw new ViewStoreError(`The query failed: ${(error as Error).message}`, { cause: error });
    } finally {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      client.release(broken);
    }
  }

  async drop(view: string): Promise<void> {
    const s = quoteIdent(this.#schema);
    await this.#transaction(`drop view '${view}'`, async (c) => {
      await c.query(`DROP TABLE IF EXISTS ${this.#table(view)}`);
      await c.query(`DELETE FROM ${s}._kappa_views WHERE name = $1`, [view]);
      await c.query(`DELETE FROM ${s}._kappa_view_offsets WHERE view = $1`, [view]);
    });
    this.#views.delete(view);
  }

  async activate(view: string, table: string, expected: string | null, held = 0): Promise<boolean> {
    await this.#definition(table);
    const s = quoteIdent(this.#schema);
    return this.#transaction(`point view '${view}' at '${table}'`, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kappa_view_active:${view}`]);
      const current = await c.query(`SELECT "table" FROM ${s}._kappa_view_active WHERE view = $1`, [view]);
      if (((current.rows[0]?.table as string | undefined) ?? null) !== expected) return false;
      // DDL is transactional in PostgreSQL: a query waits for the switch's lock, then finds the new
      // view by its name. DROP, not CREATE OR REPLACE, as another version may have other columns.
      await c.query(`DROP VIEW IF EXISTS ${this.#table(view)}`);
      await c.query(`CREATE VIEW ${this.#table(view)} AS SELECT * FROM ${this.#table(table)}`);
      if (this.#queryRole)
        await c.query(`GRANT SELECT ON ${this.#table(view)} TO ${quoteIdent(this.#queryRole)}`);
      await c.query(
        `INSERT INTO ${s}._kappa_view_active VALUES ($1, $2, $3) ON CONFLICT (view) DO UPDATE SET "table" = EXCLUDED."table", held = EXCLUDED.held`,
        [view, table, held],
      );
      return true;
    });
  }

  async activeTables(): Promise<Map<string, ActiveView>> {
    const result = await this.#query(
      `SELECT view, "table", held FROM ${quoteIdent(this.#schema)}._kappa_view_active`,
    );
    return new Map(
      result.rows.map((r) => [r.view as string, { table: r.table as string, held: Number(r.held) }]),
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.#owner.end(), this.#readers.end()]);
  }

  #table(view: string): string {
    return `${quoteIdent(this.#schema)}.${quoteIdent(view)}`;
  }

  /** Other processes define views too: one not known here is looked up before it is called unknown. */
  async #definition(view: string): Promise<ViewDefinition> {
    let definition = this.#views.get(view);
    if (!definition) {
      await this.#refresh();
      definition = this.#views.get(view);
    }
    if (!definition) throw new UnknownViewError(view);
    return definition;
  }

  async #refresh(): Promise<void> {
    const result = await this.#query(`SELECT definition FROM ${quoteIdent(this.#schema)}._kappa_views`);
    this.#refreshed = Date.now();
    this.#views.clear();
    for (const { definition } of result.rows) this.#views.set(definition.name, definition as ViewDefinition);
  }

  async #select(definition: ViewDefinition, where: string, params: unknown[]): Promise<StoredRow[]> {
    const columns = definition.columns.map((col) => quoteIdent(col.name));
    const sql = `SELECT key, (extract(epoch FROM window_start) * 1000)::BIGINT AS ws, (extract(epoch FROM window_end) * 1000)::BIGINT AS we, kind${columns.map((c) => `, ${c}`).join('')} FROM ${this.#table(definition.name)} ${where}`;
    const result = await this.#query(sql, params, 'array');
    return (result.rows as unknown[][]).map((row) => {
      const values: Record<string, unknown> = {};
      definition.columns.forEach((col, i) => {
        values[col.name] = fromSql(col.type, row[4 + i]);
      });
      return {
        key: fromSql(definition.key, row[0]),
        windowStart: Number(row[1]),
        windowEnd: Number(row[2]),
        kind: row[3] as StoredRow['kind'],
        values,
      };
    });
  }

  async #query(sql: string, params: unknown[] = [], rowMode?: 'array'): Promise<pg.QueryResult> {
    try {
      return await this.#owner.query({ text: sql, values: params, ...(rowMode ? { rowMode } : {}) });
    } catch (error) {
      throw new ViewStoreError(`The view database failed: ${(error as Error).message}`, { cause: error });
    }
  }

  #transaction<T>(what: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.#owner, what, work);
  }
}

/** `work` in one transaction on a client of `pool`; a failure rolls back and says what could not be done. */
async function transaction<T>(
  pool: pg.Pool,
  what: string,
  work: (c: pg.PoolClient) => Promise<T>,
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new ViewStoreError(`Could not ${what}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await client.query('BEGIN');
    const value = await work(client);
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if (error instanceof ViewStoreConflictError || error instanceof InvalidArgumentError) throw error;
    throw new ViewStoreError(`Could not ${what}: ${(error as Error).message}`, { cause: error });
  } finally {
    client.release();
  }
}

/** A value as a query parameter: JSON as its text (cast to JSONB in the SQL). */
function sqlValue(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return type === 'json' ? JSON.stringify(value) : value;
}

function fromSql(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  // BIGINT comes as text from pg (it may not fit a double); the view's integers are safe ones.
  if (type === 'integer') return Number(value);
  return value;
}

function jsonValue(value: unknown, oid: number): unknown {
  if (value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (NUMBER_OIDS.has(oid) && typeof value === 'string') {
    const n = Number(value);
    return Number.isSafeInteger(n) || (oid !== 20 && Number.isFinite(n)) ? n : value;
  }
  return value;
}
