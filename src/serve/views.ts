import { type Logger, silentLogger } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import type { Pipeline, ViewStep } from '../stream/index.ts';
import { type ArchiveTables, readsArchive } from './archive-tables.ts';
import { cacheLookup, type QueriedEvent, queried } from './serve-events.ts';
import { cachedLatest, cacheKey, latestPerKey, type ViewCache } from './view-cache.ts';
import { UnknownViewError } from './view-errors.ts';
import { type ViewChange, ViewMaterializer } from './view-materializer.ts';
import type { QueryOptions, QueryResult, StoredRow, ViewDefinition, ViewStore } from './view-store.ts';
import { ViewVersions, type ViewVersionsOptions } from './view-versions.ts';

export interface ViewsOptions {
  bus: Bus;
  store: ViewStore;
  cache: ViewCache;
  deadLetterTopic: string;
  logger?: Logger;
  /** Run a materializer for each view of these pipelines (the writer's role); none in an API-only process. */
  materialize?: readonly Pipeline[];
  /** The archive's tables, for queries that read `archive.<topic>` (see ArchiveTables). */
  archive?: ArchiveTables;
  /** When a new version of a view takes over (the config's views.versions). */
  versions?: Pick<ViewVersionsOptions, 'autoPromote' | 'maxLag' | 'dropAfterMs' | 'checkMs'>;
}

export type ViewListener = (change: ViewChange) => void;

/** The views a process serves: the store, the cache in front of it, the materializers and live subscribers. */
export class Views {
  readonly store: ViewStore;
  readonly cache: ViewCache;
  readonly #o: ViewsOptions;
  readonly #logger: Logger;
  readonly #materializers: ViewMaterializer[] = [];
  readonly #listeners = new Map<string, Set<ViewListener>>();
  /** Tables whose cache may hold stale rows (an update of it failed): cleared before the next batch. */
  readonly #cacheDirty = new Set<string>();
  /** Which version of each view queries read, and the switches between them. */
  readonly versions: ViewVersions;
  #hits = 0;
  #misses = 0;

  constructor(options: ViewsOptions) {
    this.#o = options;
    this.store = options.store;
    this.cache = options.cache;
    this.#logger = options.logger ?? silentLogger;
    this.versions = new ViewVersions({
      store: options.store,
      bus: options.bus,
      pipelines: options.materialize ?? [],
      materializers: () => this.#materializers,
      autoPromote: true,
      maxLag: 0,
      dropAfterMs: 10 * 60_000,
      ...options.versions,
      logger: this.#logger,
    });
  }

  get materializers(): readonly ViewMaterializer[] {
    return this.#materializers;
  }

  get cacheStats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  async start(): Promise<void> {
    for (const p of this.#o.materialize ?? [])
      for (const step of p.steps)
        if (step.kind === 'toView') {
          const m = new ViewMaterializer({
            bus: this.#o.bus,
            store: this.store,
            step: step as ViewStep,
            pipeline: p.name,
            deadLetterTopic: this.#o.deadLetterTopic,
            logger: this.#logger,
            onChange: (change) => this.#changed(change),
          });
          await m.start();
          this.#materializers.push(m);
        }
    await this.versions.refresh();
    if (this.#materializers.length > 0) this.versions.start();
  }

  async stop(): Promise<void> {
    await this.versions.stop();
    for (const m of this.#materializers.splice(0)) await m.stop();
    this.#listeners.clear();
  }

  /** The views, each with the columns of the version queries read (named for the view). */
  async list(): Promise<ViewDefinition[]> {
    const defined = await this.store.views();
    const out: ViewDefinition[] = [];
    for (const [view, table] of await this.versions.views()) {
      const found = defined.find((d) => d.name === table);
      if (found) out.push({ ...found, name: view });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The definition of the version of `view` queries read, named for the view. */
  async definition(view: string): Promise<ViewDefinition> {
    const table = await this.versions.table(view);
    const found = (await this.store.views()).find((v) => v.name === table);
    if (!found) throw new UnknownViewError(view);
    return { ...found, name: view };
  }

  /**
   * The view's definition, or null for a view a pipeline here writes that has no row yet (its
   * columns come with its first rows); UnknownViewError for neither.
   */
  async definitionOrDeclared(view: string): Promise<ViewDefinition | null> {
    try {
      return await this.definition(view);
    } catch (error) {
      if (error instanceof UnknownViewError && this.#materializers.some((m) => m.view === view)) return null;
      throw error;
    }
  }

  /** Rows of the version of `view` queries read. */
  async rowCount(view: string): Promise<number> {
    return this.store.rowCount(await this.versions.table(view));
  }

  /** The key's latest window, from the cache when it has it (a store failure of the cache falls back to the store). */
  latest(view: string, key: unknown): Promise<StoredRow | null> {
    return timed('latest', async () => {
      // The cache is kept per version's table, so a switch never serves the other version's rows.
      const table = await this.versions.table(view);
      // An in-process cache is kept by this process's materializers only: without one, it would go stale.
      if (this.cache.kind === 'memory' && !this.#materializers.some((m) => m.table === table))
        return this.store.latest(table, key);
      let hit = false;
      try {
        const cached = await cachedLatest(this.cache, table, key, () => this.store.latest(table, key));
        hit = cached.hit;
        return cached.row;
      } catch (error) {
        this.#logger.warn({ err: error, view }, 'view cache unavailable: answering from the view store');
        return this.store.latest(table, key);
      } finally {
        if (hit) this.#hits++;
        else this.#misses++;
        if (cacheLookup.hasSubscribers) cacheLookup.publish({ view, hit });
      }
    });
  }

  range(view: string, key: unknown, from: number, to: number): Promise<StoredRow[]> {
    return timed('range', async () => this.store.range(await this.versions.table(view), key, from, to));
  }

  top(view: string, by: string, n: number, windowStart?: number): Promise<StoredRow[]> {
    return timed('top', async () => this.store.top(await this.versions.table(view), by, n, windowStart));
  }

  /** A query over the views, or over the archive when it reads `archive.<topic>` (not both in one query). */
  query(sql: string, options: QueryOptions): Promise<QueryResult> {
    return timed('sql', () =>
      this.#o.archive && readsArchive(sql)
        ? this.#o.archive.query(sql, options)
        : this.store.query(sql, options),
    );
  }

  /** Calls `listener` with every batch applied to the view here; returns the unsubscribe. */
  subscribe(view: string, listener: ViewListener): () => void {
    let set = this.#listeners.get(view);
    if (!set) this.#listeners.set(view, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(view);
    };
  }

  /** Live subscribers now, over every view (tests check that none leak). */
  get subscribers(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  async #changed(change: ViewChange): Promise<void> {
    const { view, table } = change;
    try {
      if (this.#cacheDirty.has(table)) {
        await this.cache.clear(table);
        this.#cacheDirty.delete(table);
      }
      await this.cache.bump(table);
      // The rows that are their key's latest in the store now are cached, present or not; the
      // others (a late update of an older window) change nothing.
      const latest = latestPerKey(change.upserts);
      const ends = await this.store.latestEnds(
        table,
        latest.map((r) => r.key),
      );
      await this.cache.offer(
        table,
        latest.filter((r) => ends.get(cacheKey(r.key)) === r.windowEnd),
        { absent: true },
      );
      await this.cache.evict(table, change.deletes);
    } catch (error) {
      this.#cacheDirty.add(table);
      this.#logger.warn(
        { err: error, view },
        'view cache update failed: it is cleared before the next batch',
      );
    }
    // Live subscribers follow the version queries read (the first one, before any is defined).
    const serving = this.versions.current(view);
    if (serving !== undefined && serving !== table) return;
    for (const listener of this.#listeners.get(view) ?? []) {
      try {
        listener(change);
      } catch (error) {
        this.#logger.warn({ err: error, view }, 'a live view subscriber failed');
      }
    }
  }
}

/** Runs a query, timing it for whoever listens (see ops/). */
async function timed<T>(kind: QueriedEvent['kind'], run: () => Promise<T>): Promise<T> {
  if (!queried.hasSubscribers) return run();
  const started = performance.now();
  try {
    return await run();
  } finally {
    queried.publish({ kind, seconds: (performance.now() - started) / 1000 });
  }
}
