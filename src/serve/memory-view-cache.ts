import { cacheKey, latestPerKey, type ViewCache } from './view-cache.ts';
import type { RowId, StoredRow } from './view-store.ts';

interface Entry {
  view: string;
  key: string;
  row: StoredRow | null;
  bytes: number;
}

/** Rough bytes an entry holds: its JSON twice (UTF-16) plus the map's overhead. */
function sizeOf(key: string, row: StoredRow | null): number {
  return 2 * (key.length + (row === null ? 4 : JSON.stringify(row.values).length + 64)) + 96;
}

/**
 * The in-process cache: one LRU over every view (a Map in use order), entries evicted from the
 * least recently used once the byte budget is passed. Checks and sets are synchronous, so a fill
 * and an offer cannot interleave.
 */
export class MemoryViewCache implements ViewCache {
  readonly kind = 'memory' as const;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  readonly #epochs = new Map<string, number>();
  #bytes = 0;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Bytes held now (an estimate), for tests and metrics. */
  get bytes(): number {
    return this.#bytes;
  }

  async get(view: string, key: unknown): Promise<StoredRow | null | undefined> {
    const id = `${view}\u0000${cacheKey(key)}`;
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    // Most recently used last.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.row;
  }

  async epoch(view: string): Promise<number> {
    return this.#epochs.get(view) ?? 0;
  }

  async fill(view: string, key: unknown, row: StoredRow | null, epoch: number): Promise<void> {
    if ((this.#epochs.get(view) ?? 0) !== epoch) return;
    const k = cacheKey(key);
    if (this.#entries.has(`${view}\u0000${k}`)) return;
    this.#set(view, k, row);
  }

  async bump(view: string): Promise<void> {
    this.#epochs.set(view, (this.#epochs.get(view) ?? 0) + 1);
  }

  async offer(view: string, rows: readonly StoredRow[], options: { absent?: boolean } = {}): Promise<void> {
    for (const row of latestPerKey(rows)) {
      const k = cacheKey(row.key);
      const entry = this.#entries.get(`${view}\u0000${k}`);
      if (entry ? entry.row === null || row.windowEnd >= entry.row.windowEnd : options.absent)
        this.#set(view, k, row);
    }
  }

  async evict(view: string, ids: readonly RowId[]): Promise<void> {
    for (const id of ids) {
      const k = `${view}\u0000${cacheKey(id.key)}`;
      const entry = this.#entries.get(k);
      if (entry?.row && entry.row.windowStart === id.windowStart && entry.row.windowEnd === id.windowEnd)
        this.#remove(k, entry);
    }
  }

  async clear(view: string): Promise<void> {
    for (const [k, entry] of this.#entries) if (entry.view === view) this.#remove(k, entry);
    this.#epochs.set(view, (this.#epochs.get(view) ?? 0) + 1);
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #set(view: string, key: string, row: StoredRow | null): void {
    const id = `${view}\u0000${key}`;
    const old = this.#entries.get(id);
    if (old) this.#remove(id, old);
    const entry = { view, key, row, bytes: sizeOf(key, row) };
    this.#entries.set(id, entry);
    this.#bytes += entry.bytes;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#remove(k, e);
    }
  }

  #remove(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }
}
