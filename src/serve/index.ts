export { ArchiveTables, type ArchiveTablesOptions, readsArchive } from './archive-tables.ts';
export { DuckDbViewStore, type DuckDbViewStoreOptions } from './duckdb-view-store.ts';
export { MemoryViewCache } from './memory-view-cache.ts';
export { PgServer, type PgServerOptions } from './pg-wire/pg-server.ts';
export { PostgresViewStore, type PostgresViewStoreOptions } from './postgres-view-store.ts';
export { RedisViewCache, type RedisViewCacheOptions } from './redis-view-cache.ts';
export {
  type CacheLookupEvent,
  cacheLookup,
  type MaterializedEvent,
  materialized,
  type QueriedEvent,
  queried,
} from './serve-events.ts';
export { cachedLatest, latestPerKey, type ViewCache } from './view-cache.ts';
export { defineView, missingColumn, parseKey, storedRow } from './view-columns.ts';
export {
  QueryInvalidError,
  QueryRefusedError,
  UnknownViewError,
  ViewStoreConflictError,
  ViewStoreError,
  ViewVersionError,
} from './view-errors.ts';
export { type ViewChange, ViewMaterializer, type ViewMaterializerOptions } from './view-materializer.ts';
export type {
  ActiveView,
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
export { type VersionInfo, ViewVersions, type ViewVersionsOptions } from './view-versions.ts';
export { type ViewListener, Views, type ViewsOptions } from './views.ts';
