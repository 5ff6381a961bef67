import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampValue,
  type DuckDBValue,
  listValue,
} from '@duckdb/node-api';
import { ConnectionPool, InvalidArgumentError } from '../core/index.ts';
import { cleanMessage, readOnlyQuery } from './duckdb-query.ts';
import { cacheKey } from './view-cache.ts';
import { missingColumn, quoteIdent } from './view-columns.ts';
import { UnknownViewError, ViewStoreConflictError, ViewStoreError } from './view-errors.ts';
import type {
  ActiveView,
  ColumnType,
  QueryOptions,
  QueryResult,
  RowId,
  StoredRow,
  ViewBatch,
  ViewDefinition,
  ViewStore,
} from './view-store.ts';

const SQL_TYPES: Record<ColumnType, string> = {
  integer: 'BIGINT',
  number: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  json: 'JSON',
};

export interface DuckDbViewStoreOptions {
  /** The database file (`<dataDir>/views/views.duckdb`). */
  file: string;
  /** Connections that answer queries, each one query at a time. Default 4. */
  readers?: number;
}

/**
 * Views in one DuckDB file, the embedded default. One connection writes (the materializers'
 * batches, one transaction each, one at a time); a few others answer queries, which DuckDB's MVCC
 * lets read a consistent snapshot while a batch is being written.
 *
 * Queries are read-only for real: the database is opened with external access off (no files, no
 * network, no extensions: `read_csv('/etc/passwd')`, `COPY … TO`, `ATTACH`, `INSTALL` fail inside
 * DuckDB) and its configuration locked, and a query must be one statement that DuckDB's own parser
 * types as a SELECT, so writes, DDL, SET, PRAGMA and EXPLAIN ANALYZE are refused before they run.
 */
export class DuckDbViewStore implements ViewStore {
  readonly kind = 'duckdb' as const;
  readonly #instance: DuckDBInstance;
  readonly #writer: DuckDBConnection;
  readonly #readers: ConnectionPool<DuckDBConnection>;
  readonly #views = new Map<string, ViewDefinition>();
  /** The writer's temp tables made so far (made once per view, emptied per batch). */
  readonly #staged = new Set<string>();
  /** The writer's work, one thing at a time: a transaction is the connection's. */
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(instance: DuckDBInstance, writer: DuckDBConnection, readers: DuckDBConnection[]) {
    this.#instance = instance;
    this.#writer = writer;
    this.#readers = new ConnectionPool(readers, () => new ViewStoreError('The view store is closed'));
  }

  static async open(options: DuckDbViewStoreOptions): Promise<DuckDbViewStore> {
    let instance: DuckDBInstance;
    try {
      await mkdir(path.dirname(options.file), { recursive: true });
      instance = await DuckDBInstance.create(options.file, { enable_external_access: 'false' });
    } catch (error) {
      throw new ViewStoreError(`Cannot open the view database ${options.file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const writer = await instance.connect();
    await writer.run(
      'CREATE TABLE IF NOT EXISTS _kappa_views (name VARCHAR PRIMARY KEY, definition JSON NOT NULL)',
    );
    await writer.run(
      'CREATE TABLE IF NOT EXISTS _kappa_view_offsets (view VARCHAR, "partition" INTEGER, next_offset BIGINT NOT NULL, PRIMARY KEY (view, "partition"))',
    );
    await writer.run(
      'CREATE TABLE IF NOT EXISTS _kappa_view_active (view VARCHAR PRIMARY KEY, "table" VARCHAR NOT NULL, held INTEGER NOT NULL DEFAULT 0)',
    );
    // Nothing may change the settings from here on, whatever a query tries.
    await writer.run('SET lock_configuration = true');
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < (options.readers ?? 4); i++) readers.push(await instance.connect());
    const store = new DuckDbViewStore(instance, writer, readers);
    const defined = await writer.runAndReadAll('SELECT definition FROM _kappa_views');
    for (const [definition] of defined.getRows()) {
      const view = JSON.parse(definition as string) as ViewDefinition;
      store.#views.set(view.name, view);
    }
    return store;
  }

  define(definition: ViewDefinition): Promise<ViewDefinition> {
    return this.#write(async () => {
      const existing = this.#views.get(definition.name);
      if (existing) return existing;
      const table = quoteIdent(definition.name);
      const columns = [
        `key ${SQL_TYPES[definition.key]} NOT NULL`,
        'window_start TIMESTAMP NOT NULL',
        'window_end TIMESTAMP NOT NULL',
        'kind VARCHAR NOT NULL',
        ...definition.columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPES[c.type]}`),
        'PRIMARY KEY (key, window_start, window_end)',
      ];
      await this.#writer.run('BEGIN TRANSACTION');
      try {
        await this.#writer.run(`CREATE TABLE ${table} (${columns.join(', ')})`);
        await this.#writer.run('INSERT INTO _kappa_views VALUES ($1, $2)', [
          definition.name,
          JSON.stringify(definition),
        ]);
        await this.#writer.run('COMMIT');
      } catch (error) {
        await this.#writer.run('ROLLBACK').catch(() => {});
        throw this.#failed(`define view '${definition.name}'`, error);
      }
      this.#views.set(definition.name, definition);
      return definition;
    });
  }

  async views(): Promise<ViewDefinition[]> {
    return [...this.#views.values()];
  }

  async offsets(view: string): Promise<Map<number, number>> {
    const result = await this.#readers.use((c) =>
      c.runAndReadAll('SELECT "partition", next_offset FROM _kappa_view_offsets WHERE view = $1', [view]),
    );
    return new Map(result.getRows().map(([p, o]) => [Number(p), Number(o)]));
  }

  apply(view: string, batch: ViewBatch): Promise<void> {
    const definition = this.#definition(view);
    return this.#write(async () => {
      const w = this.#writer;
      const table = quoteIdent(view);
      await w.run('BEGIN TRANSACTION');
      try {
        const stored = new Map(
          (
            await w.runAndReadAll(
              'SELECT "partition", next_offset FROM _kappa_view_offsets WHERE view = $1',
              [view],
            )
          )
            .getRows()
            .map(([p, o]) => [Number(p), Number(o)]),
        );
        for (const p of batch.progress) {
          const at = stored.get(p.partition) ?? 0;
          if (at !== p.from) throw new ViewStoreConflictError(view, p.partition, p.from, at);
        }
        if (batch.upserts.length > 0) {
          const stage = await this.#stage(w, view, 'upserts');
          const appender = await w.createAppender(stage, 'main', 'temp');
          try {
            for (const row of batch.upserts) appendRow(appender, definition, row);
            appender.flushSync();
          } finally {
            appender.closeSync();
          }
          await w.run(`INSERT OR REPLACE INTO ${table} SELECT * FROM temp.main.${quoteIdent(stage)}`);
        }
        if (batch.deletes.length > 0) {
          const stage = await this.#stage(w, view, 'deletes');
          const appender = await w.createAppender(stage, 'main', 'temp');
          try {
            for (const id of batch.deletes) {
              appendId(appender, definition, id);
              appender.endRow();
            }
            appender.flushSync();
          } finally {
            appender.closeSync();
          }
          await w.run(
            `DELETE FROM ${table} USING temp.main.${quoteIdent(stage)} AS d WHERE ${table}.key = d.key AND ${table}.window_start = d.window_start AND ${table}.window_end = d.window_end`,
          );
        }
        if (batch.expireBefore !== undefined)
          await w.run(`DELETE FROM ${table} WHERE window_end < make_timestamp($1::BIGINT * 1000)`, [
            batch.expireBefore,
          ]);
        for (const p of batch.progress)
          await w.run('INSERT OR REPLACE INTO _kappa_view_offsets VALUES ($1, $2, $3)', [
            view,
            p.partition,
            p.to,
          ]);
        await w.run('COMMIT');
      } catch (error) {
        await w.run('ROLLBACK').catch(() => {});
        if (error instanceof ViewStoreConflictError) throw error;
        throw this.#failed(`apply a batch to view '${view}'`, error);
      }
    });
  }

  async latest(view: string, key: unknown): Promise<StoredRow | null> {
    const definition = this.#definition(view);
    const rows = await this.#select(
      definition,
      `WHERE key = ${keyParam(definition.key)} ORDER BY window_end DESC LIMIT 1`,
      [keyValue(definition.key, key)],
    );
    return rows[0] ?? null;
  }

  async latestEnds(view: string, keys: readonly unknown[]): Promise<Map<string, number>> {
    const definition = this.#definition(view);
    if (keys.length === 0) return new Map();
    const list = listValue(keys.map((k) => keyValue(definition.key, k)));
    const type = definition.key === 'json' ? 'VARCHAR' : SQL_TYPES[definition.key];
    const key = definition.key === 'json' ? 'CAST(key AS VARCHAR)' : 'key';
    const result = await this.#readers.use((c) =>
      c.runAndReadAll(
        `SELECT ${key}, epoch_ms(max(window_end)) FROM ${quoteIdent(view)} WHERE ${key} IN (SELECT unnest($1::${type}[])) GROUP BY ALL`,
        [list],
      ),
    );
    return new Map(
      result.getRows().map(([k, end]) => [cacheKey(fromSql(definition.key, k!)), Number(end)] as const),
    );
  }

  range(view: string, key: unknown, from: number, to: number): Promise<StoredRow[]> {
    const definition = this.#definition(view);
    return this.#select(
      definition,
      `WHERE key = ${keyParam(definition.key)} AND window_start >= make_timestamp($2::BIGINT * 1000) AND window_start < make_timestamp($3::BIGINT * 1000) ORDER BY window_start`,
      [keyValue(definition.key, key), Math.max(from, -8.64e15), Math.min(to, 8.64e15)],
    );
  }

  top(view: string, by: string, n: number, windowStart?: number): Promise<StoredRow[]> {
    const definition = this.#definition(view);
    const missing = missingColumn(definition, by);
    if (missing) throw new InvalidArgumentError(missing);
    const table = quoteIdent(view);
    const at =
      windowStart === undefined
        ? `(SELECT max(window_start) FROM ${table})`
        : 'make_timestamp($1::BIGINT * 1000)';
    return this.#select(
      definition,
      `WHERE window_start = ${at} ORDER BY ${quoteIdent(by)} DESC NULLS LAST, key LIMIT ${Math.trunc(n)}`,
      windowStart === undefined ? [] : [windowStart],
    );
  }

  async rowCount(view: string): Promise<number> {
    this.#definition(view);
    const result = await this.#readers.use((c) =>
      c.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(view)}`),
    );
    return Number(result.getRows()[0]![0]);
  }

  query(sql: string, options: QueryOptions): Promise<QueryResult> {
    return this.#readers.use((c) => readOnlyQuery(c, sql, options));
  }

  drop(view: string): Promise<void> {
    return this.#write(async () => {
      await this.#writer.run('BEGIN TRANSACTION');
      try {
        await this.#writer.run(`DROP TABLE IF EXISTS ${quoteIdent(view)}`);
        // A view made again under this name may have other columns: its stages go too.
        for (const what of ['upserts', 'deletes']) {
          const stage = `stage_${what}_${view}`;
          await this.#writer.run(`DROP TABLE IF EXISTS temp.main.${quoteIdent(stage)}`);
          this.#staged.delete(stage);
        }
        await this.#writer.run('DELETE FROM _kappa_views WHERE name = $1', [view]);
        await this.#writer.run('DELETE FROM _kappa_view_offsets WHERE view = $1', [view]);
        await this.#writer.run('COMMIT');
      } catch (error) {
        await this.#writer.run('ROLLBACK').catch(() => {});
        throw this.#failed(`drop view '${view}'`, error);
      }
      this.#views.delete(view);
    });
  }

  activate(view: string, table: string, expected: string | null, held = 0): Promise<boolean> {
    return this.#write(async () => {
      this.#definition(table);
      await this.#writer.run('BEGIN TRANSACTION');
      try {
        const current = await this.#writer.runAndReadAll(
          'SELECT "table" FROM _kappa_view_active WHERE view = $1',
          [view],
        );
        if (((current.getRows()[0]?.[0] as string | undefined) ?? null) !== expected) {
          await this.#writer.run('ROLLBACK');
          return false;
        }
        // DuckDB's catalogue is transactional: a query sees the view before or after, whole.
        await this.#writer.run(`DROP VIEW IF EXISTS ${quoteIdent(view)}`);
        await this.#writer.run(`CREATE VIEW ${quoteIdent(view)} AS SELECT * FROM ${quoteIdent(table)}`);
        await this.#writer.run('INSERT OR REPLACE INTO _kappa_view_active VALUES ($1, $2, $3)', [
          view,
          table,
          held,
        ]);
        await this.#writer.run('COMMIT');
        return true;
      } catch (error) {
        await this.#writer.run('ROLLBACK').catch(() => {});
        throw this.#failed(`point view '${view}' at '${table}'`, error);
      }
    });
  }

  async activeTables(): Promise<Map<string, ActiveView>> {
    const result = await this.#readers.use((c) =>
      c.runAndReadAll('SELECT view, "table", held FROM _kappa_view_active'),
    );
    return new Map(
      result
        .getRows()
        .map(([view, table, held]) => [view as string, { table: table as string, held: Number(held) }]),
    );
  }

  async close(): Promise<void> {
    await this.#writing.catch(() => {});
    await this.#readers.close((c) => c.closeSync());
    this.#writer.closeSync();
    this.#instance.closeSync();
  }

  #definition(view: string): ViewDefinition {
    const definition = this.#views.get(view);
    if (!definition) throw new UnknownViewError(view);
    return definition;
  }

  #write<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writing.then(work, work);
    this.#writing = run.catch(() => {});
    return run;
  }

  /** The writer's temp table (its name, unquoted) for a batch's rows, or row ids, of a view; emptied. */
  async #stage(w: DuckDBConnection, view: string, what: 'upserts' | 'deletes'): Promise<string> {
    const stage = `stage_${what}_${view}`;
    if (!this.#staged.has(stage)) {
      const columns = what === 'upserts' ? '*' : 'key, window_start, window_end';
      await w.run(
        `CREATE TEMP TABLE IF NOT EXISTS ${quoteIdent(stage)} AS SELECT ${columns} FROM ${quoteIdent(view)} LIMIT 0`,
      );
      this.#staged.add(stage);
    }
    await w.run(`DELETE FROM temp.main.${quoteIdent(stage)}`);
    return stage;
  }

  async #select(definition: ViewDefinition, where: string, params: DuckDBValue[]): Promise<StoredRow[]> {
    const columns = definition.columns.map((c) => quoteIdent(c.name)).join(', ');
    const sql = `SELECT key, epoch_ms(window_start), epoch_ms(window_end), kind${columns ? `, ${columns}` : ''} FROM ${quoteIdent(definition.name)} ${where}`;
    const result = await this.#readers.use((c) => c.runAndReadAll(sql, params));
    return result.getRows().map((row) => {
      const values: Record<string, unknown> = {};
      definition.columns.forEach((c, i) => {
        values[c.name] = fromSql(c.type, row[4 + i]!);
      });
      return {
        key: fromSql(definition.key, row[0]!),
        windowStart: Number(row[1]),
        windowEnd: Number(row[2]),
        kind: row[3] as StoredRow['kind'],
        values,
      };
    });
  }

  #failed(what: string, error: unknown): ViewStoreError {
    return new ViewStoreError(`Could not ${what}: ${cleanMessage(error)}`, { cause: error });
  }
}

function appendRow(appender: DuckDBAppender, view: ViewDefinition, row: StoredRow): void {
  appendId(appender, view, row);
  appender.appendVarchar(row.kind);
  for (const c of view.columns) appendValue(appender, c.type, row.values[c.name] ?? null);
  appender.endRow();
}

function appendId(appender: DuckDBAppender, view: ViewDefinition, id: RowId): void {
  appendValue(appender, view.key, id.key);
  appender.appendTimestamp(new DuckDBTimestampValue(BigInt(id.windowStart) * 1000n));
  appender.appendTimestamp(new DuckDBTimestampValue(BigInt(id.windowEnd) * 1000n));
}

function appendValue(appender: DuckDBAppender, type: ColumnType, value: unknown): void {
  if (value === null || value === undefined) appender.appendNull();
  else if (type === 'integer') appender.appendBigInt(BigInt(value as number));
  else if (type === 'number') appender.appendDouble(value as number);
  else if (type === 'string') appender.appendVarchar(value as string);
  else if (type === 'boolean') appender.appendBoolean(value as boolean);
  else appender.appendVarchar(JSON.stringify(value));
}

/** A key as a query parameter: JSON keys are compared as JSON text. */
function keyValue(type: ColumnType, key: unknown): DuckDBValue {
  if (type === 'json') return JSON.stringify(key);
  if (type === 'integer') return BigInt(key as number);
  return key as DuckDBValue;
}

function keyParam(type: ColumnType): string {
  return type === 'json' ? '$1::JSON' : `$1::${SQL_TYPES[type]}`;
}

function fromSql(type: ColumnType, value: DuckDBValue): unknown {
  if (value === null) return null;
  if (type === 'json') return JSON.parse(value as string);
  if (typeof value === 'bigint') return Number(value);
  return value;
}
