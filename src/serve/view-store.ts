import type { ResultType } from '../stream/index.ts';

/** A view column's type; each store maps it to its SQL type (DuckDB: BIGINT, DOUBLE, VARCHAR, BOOLEAN, JSON). */
export type ColumnType = ResultType;

export interface ViewColumn {
  name: string;
  type: ColumnType;
}

/**
 * A view's table: `key`, `window_start`, `window_end` (timestamps), `kind` (final, update, early),
 * then one column per aggregate. Fixed when the view's first rows arrive; a later row of another
 * shape is a dead letter.
 */
export interface ViewDefinition {
  name: string;
  /** The topic it is materialized from, `kappa-view-<name>`. */
  topic: string;
  key: ColumnType;
  columns: ViewColumn[];
  /** Rows whose window ended longer ago than this, behind the newest window end seen, are dropped. */
  retentionMs: number | null;
}

/** One row as the store holds it: times in ms since the epoch, aggregates by column name. */
export interface StoredRow {
  key: unknown;
  windowStart: number;
  windowEnd: number;
  kind: 'early' | 'final' | 'update';
  values: Record<string, unknown>;
}

/** A row's identity: its key and window. */
export interface RowId {
  key: unknown;
  windowStart: number;
  windowEnd: number;
}

/** What one topic partition's records, from `from` up to `to` (exclusive), did to a view. */
export interface PartitionProgress {
  partition: number;
  /** The offset the store held for the partition when the batch was read (0: none yet). */
  from: number;
  to: number;
}

/**
 * One materializer batch: applied in one database transaction with the offsets it reaches, so a
 * view and the offsets it covers never disagree, whatever crashes.
 */
export interface ViewBatch {
  upserts: StoredRow[];
  deletes: RowId[];
  progress: PartitionProgress[];
  /** Rows whose window ended before this (ms) are deleted too: the view's retention. */
  expireBefore?: number;
}

export interface QueryOptions {
  /** Rows returned at most; a result with more says `truncated`. */
  maxRows: number;
  timeoutMs: number;
  /** Values of `$1`, `$2`… as text (the Postgres wire protocol's parameters); the store casts them. */
  params?: ReadonlyArray<string | null>;
}

export interface QueryResult {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  truncated: boolean;
}

/** The table a view points at, and the versions up to which it is held from automatic promotion. */
export interface ActiveView {
  table: string;
  held: number;
}

/**
 * Where views live: DuckDB in the embedded shape, PostgreSQL in the distributed one. Every
 * implementation passes test/serve/view-store-contract.ts.
 */
export interface ViewStore {
  readonly kind: 'duckdb' | 'postgres';
  /**
   * Makes the view's table if it is new and returns the definition stored: a view defined before
   * keeps its columns (its rows were written with them).
   */
  define(definition: ViewDefinition): Promise<ViewDefinition>;
  /** The defined views, by name. */
  views(): Promise<ViewDefinition[]>;
  /** Next offset to read per topic partition, as of the last batch applied. */
  offsets(view: string): Promise<Map<number, number>>;
  /**
   * Applies a batch in one transaction. Throws ViewStoreConflictError, changing nothing, when a
   * partition's stored offset is not the batch's `from`: another materializer applied it meanwhile.
   */
  apply(view: string, batch: ViewBatch): Promise<void>;
  /** The row of the key's latest window (greatest window_end), or null. */
  latest(view: string, key: unknown): Promise<StoredRow | null>;
  /** For each of these keys that has rows, the end of its latest window (by the key's cacheKey, its JSON). */
  latestEnds(view: string, keys: readonly unknown[]): Promise<Map<string, number>>;
  /** The key's rows whose window starts in [from, to), by window start. */
  range(view: string, key: unknown, from: number, to: number): Promise<StoredRow[]>;
  /** The `n` rows with the greatest `by` among windows starting at `windowStart` (default: the latest window start). */
  top(view: string, by: string, n: number, windowStart?: number): Promise<StoredRow[]>;
  rowCount(view: string): Promise<number>;
  /** Runs one read-only SQL statement over the views; anything else is refused (QueryRefusedError). */
  query(sql: string, options: QueryOptions): Promise<QueryResult>;
  /**
   * Points view `view`, an SQL view that queries name, at the table `table` (one defined here), for
   * every query at once: each reads the old table or the new, never a mix. Only if the view points
   * at `expected` now (null: at nothing yet); resolves whether it did. The table holds one version of
   * the view (`<view>__v<n>`); the other methods here take table names. `held`: versions up to this
   * one are not to be promoted automatically (a rollback from one holds it).
   */
  activate(view: string, table: string, expected: string | null, held?: number): Promise<boolean>;
  /** The table each view points at now, by view. */
  activeTables(): Promise<Map<string, ActiveView>>;
  /** Drops a table and its offsets (never the one a view points at: see activate). */
  drop(view: string): Promise<void>;
  close(): Promise<void>;
}
