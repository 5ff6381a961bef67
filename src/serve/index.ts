export { ConnectionPool } from './connection-pool.ts';
export { DuckDbViewStore, type DuckDbViewStoreOptions } from './duckdb-view-store.ts';
export { PostgresViewStore, type PostgresViewStoreOptions } from './postgres-view-store.ts';
export { defineView, FIXED_COLUMNS, parseKey, quoteIdent, storedRow } from './view-columns.ts';
export {
  QueryInvalidError,
  QueryRefusedError,
  UnknownViewError,
  ViewStoreConflictError,
  ViewStoreError,
} from './view-errors.ts';
export { type ViewChange, ViewMaterializer, type ViewMaterializerOptions } from './view-materializer.ts';
export type {
  ColumnType,
  PartitionProgress,
  QueryOptions,
  QueryResult,
  RowId,
  StoredRow,
  ViewBatch,
  ViewColumn,
  ViewDefinition,
  ViewStore,
} from './view-store.ts';
