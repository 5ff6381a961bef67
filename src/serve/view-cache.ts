import type { RowId, StoredRow } from './view-store.ts';

/**
 * The latest window per key of each view, for point lookups that must not touch the view store.
 * Memory (an LRU under a byte budget) and Redis pass test/serve/view-cache-contract.ts.
 *
 * Kept exact without locks by an epoch per view, which the materializer bumps after each batch it
 * commits to the store: a reader takes the epoch, reads the store on a miss, and `fill`s only if
 * the epoch has not moved and the key is still absent. The materializer, after bumping, `offer`s
 * the batch's rows (a row replaces the cached one if its window ends no earlier; a key not cached
 * gets the row the store confirms as its latest) and `evict`s the rows it deleted. So a fill from a read older than a commit is refused,
 * or, if it slipped in before the bump, is corrected by the offer that follows it.
 */
export interface ViewCache {
  readonly kind: 'memory' | 'redis';
  /** The key's latest row; null: the view has no row for it; undefined: not cached. */
  get(view: string, key: unknown): Promise<StoredRow | null | undefined>;
  epoch(view: string): Promise<number>;
  /** Caches what the store answered (null: no row), if `epoch` is still the view's and the key absent. */
  fill(view: string, key: unknown, row: StoredRow | null, epoch: number): Promise<void>;
  /** After a batch is committed: moves the epoch on. */
  bump(view: string): Promise<void>;
  /**
   * After the bump: each row replaces its key's cached row if that is not newer. A key not cached
   * is cached only with `absent` (rows the store has just confirmed as their key's latest).
   */
  offer(view: string, rows: readonly StoredRow[], options?: { absent?: boolean }): Promise<void>;
  /** After the bump: a key whose cached row is one of these is dropped. */
  evict(view: string, ids: readonly RowId[]): Promise<void>;
  /** Drops every entry of the view (the view was dropped). */
  clear(view: string): Promise<void>;
  close(): Promise<void>;
}

/** A key as the cache names it: its JSON, so 1 and '1' differ. */
export function cacheKey(key: unknown): string {
  return JSON.stringify(key);
}

/** Of several rows, the latest per key (greatest window end; the later one on ties). */
export function latestPerKey(rows: readonly StoredRow[]): StoredRow[] {
  const latest = new Map<string, StoredRow>();
  for (const row of rows) {
    const k = cacheKey(row.key);
    const seen = latest.get(k);
    if (!seen || row.windowEnd >= seen.windowEnd) latest.set(k, row);
  }
  return [...latest.values()];
}

/**
 * A point lookup through the cache: a hit answers at once, a miss reads the store and fills the
 * cache (only if nothing was committed meanwhile).
 */
export async function cachedLatest(
  cache: ViewCache,
  view: string,
  key: unknown,
  read: () => Promise<StoredRow | null>,
): Promise<{ row: StoredRow | null; hit: boolean }> {
  const cached = await cache.get(view, key);
  if (cached !== undefined) return { row: cached, hit: true };
  const epoch = await cache.epoch(view);
  const row = await read();
  await cache.fill(view, key, row, epoch);
  return { row, hit: false };
}
