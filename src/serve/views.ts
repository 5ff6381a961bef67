import { type Logger, silentLogger } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import type { Pipeline, ViewStep } from '../stream/index.ts';
import { type ArchiveTables, readsArchive } from './archive-tables.ts';
import { cachedLatest, cacheKey, latestPerKey, type ViewCache } from './view-cache.ts';
import { UnknownViewError } from './view-errors.ts';
import { type ViewChange, ViewMaterializer } from './view-materializer.ts';
import type { QueryOptions, QueryResult, StoredRow, ViewDefinition, ViewStore } from './view-store.ts';

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
  /** Views whose cache may hold stale rows (an update of it failed): cleared before the next batch. */
  readonly #cacheDirty = new Set<string>();
  #hits = 0;
  #misses = 0;

  constructor(options: ViewsOptions) {
    this.#o = options;
    this.store = options.store;
    this.cache = options.cache;
    this.#logger = options.logger ?? silentLogger;
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
  }

  async stop(): Promise<void> {
    for (const m of this.#materializers.splice(0)) await m.stop();
    this.#listeners.clear();
  }

  async list(): Promise<ViewDefinition[]> {
    return (await this.store.views()).sort((a, b) => a.name.localeCompare(b.name));
  }

  async definition(view: string): Promise<ViewDefinition> {
    const found = (await this.store.views()).find((v) => v.name === view);
    if (!found) throw new UnknownViewError(view);
    return found;
  }

  /**
   * The view's definition, or null for a view a pipeline here writes that has no row yet (its
   * columns come with its first rows); UnknownViewError for neither.
   */
  async definitionOrDeclared(view: string): Promise<ViewDefinition | null> {
    const found = (await this.store.views()).find((v) => v.name === view);
    if (found) return found;
    if (this.#materializers.some((m) => m.view === view)) return null;
    throw new UnknownViewError(view);
  }

  /** The key's latest window, from the cache when it has it (a store failure of the cache falls back to the store). */
  async latest(view: string, key: unknown): Promise<StoredRow | null> {
    await this.definition(view);
    // An in-process cache is kept by this process's materializers only: without one, it would go stale.
    if (this.cache.kind === 'memory' && !this.#materializers.some((m) => m.view === view))
      return this.store.latest(view, key);
    try {
      const { row, hit } = await cachedLatest(this.cache, view, key, () => this.store.latest(view, key));
      if (hit) this.#hits++;
      else this.#misses++;
      return row;
    } catch (error) {
      this.#logger.warn({ err: error, view }, 'view cache unavailable: answering from the view store');
      this.#misses++;
      return this.store.latest(view, key);
    }
  }

  range(view: string, key: unknown, from: number, to: number): Promise<StoredRow[]> {
    return this.store.range(view, key, from, to);
  }

  top(view: string, by: string, n: number, windowStart?: number): Promise<StoredRow[]> {
    return this.store.top(view, by, n, windowStart);
  }

  /** A query over the views, or over the archive when it reads `archive.<topic>` (not both in one query). */
  query(sql: string, options: QueryOptions): Promise<QueryResult> {
    if (this.#o.archive && readsArchive(sql)) return this.#o.archive.query(sql, options);
    return this.store.query(sql, options);
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
    const { view } = change;
    try {
      if (this.#cacheDirty.has(view)) {
        await this.cache.clear(view);
        this.#cacheDirty.delete(view);
      }
      await this.cache.bump(view);
      // The rows that are their key's latest in the store now are cached, present or not; the
      // others (a late update of an older window) change nothing.
      const latest = latestPerKey(change.upserts);
      const ends = await this.store.latestEnds(
        view,
        latest.map((r) => r.key),
      );
      await this.cache.offer(
        view,
        latest.filter((r) => ends.get(cacheKey(r.key)) === r.windowEnd),
        { absent: true },
      );
      await this.cache.evict(view, change.deletes);
    } catch (error) {
      this.#cacheDirty.add(view);
      this.#logger.warn(
        { err: error, view },
        'view cache update failed: it is cleared before the next batch',
      );
    }
    for (const listener of this.#listeners.get(view) ?? []) {
      try {
        listener(change);
      } catch (error) {
        this.#logger.warn({ err: error, view }, 'a live view subscriber failed');
      }
    }
  }
}
