import { channel } from '../core/index.ts';

/** A batch a view materializer applied to its view store. */
export interface MaterializedEvent {
  view: string;
  upserts: number;
  deletes: number;
  /** Records of the view's topic the batch read. */
  records: number;
}

/** A point lookup of a view's latest row, answered by the cache or not. */
export interface CacheLookupEvent {
  view: string;
  hit: boolean;
}

/** A query of the views answered (or failed): `latest`, `range`, `top` or `sql`. */
export interface QueriedEvent {
  kind: 'latest' | 'range' | 'top' | 'sql';
  seconds: number;
}

export const materialized = channel<MaterializedEvent>('serve', 'materialize');
export const cacheLookup = channel<CacheLookupEvent>('serve', 'cache');
export const queried = channel<QueriedEvent>('serve', 'query');
