import { OverlayStore } from './overlay-store.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import { binaryKey, type StoreBackend } from './store-backend.ts';

/**
 * Committed state in a Map, for tests and `runPipeline`. Scans sort the keys (cached until the next
 * write): fine for what tests hold, not for millions of keys, which is what lmdb is for.
 */
class MemoryBackend implements StoreBackend {
  readonly #entries = new Map<string, StoreEntry>();
  #sorted: string[] | null = null;
  #meta: StoreMeta | null = null;

  get(key: Buffer): Buffer | undefined {
    return this.#entries.get(binaryKey(key))?.[1];
  }

  *range(from: Buffer | undefined, to: Buffer | undefined): Iterable<StoreEntry> {
    this.#sorted ??= [...this.#entries.keys()].sort();
    const lo = from === undefined ? null : binaryKey(from);
    const hi = to === undefined ? null : binaryKey(to);
    for (const k of this.#sorted) {
      if (lo !== null && k < lo) continue;
      if (hi !== null && k >= hi) break;
      const entry = this.#entries.get(k);
      if (entry !== undefined) yield entry;
    }
  }

  async write(changes: readonly StoreChange[], meta: StoreMeta): Promise<void> {
    for (const [key, value] of changes) {
      const k = binaryKey(key);
      if (value === null) this.#entries.delete(k);
      else this.#entries.set(k, [Buffer.from(key), Buffer.from(value)]);
    }
    this.#sorted = null;
    this.#meta = { ...meta };
  }

  meta(): StoreMeta | null {
    return this.#meta;
  }

  async clear(): Promise<void> {
    this.#entries.clear();
    this.#sorted = null;
    this.#meta = null;
  }

  async close(): Promise<void> {}
}

/** A StateStore in memory: nothing survives the process. */
export class MemoryStateStore extends OverlayStore {
  constructor() {
    super(new MemoryBackend());
  }

  /** A new store holding what `store` reads now, pending writes included: a task restarted on it sees that state. */
  static copyOf(store: StateStore): MemoryStateStore {
    const copy = new MemoryStateStore();
    for (const [key, value] of store.range()) copy.put(key, Buffer.from(value));
    return copy;
  }
}
