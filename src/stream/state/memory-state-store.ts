import { BTree, OverlayStore } from './overlay-store.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import { binaryKey, type StoreBackend } from './store-backend.ts';

/** Committed state in a B+ tree (as the overlay's layers), so a scan reads only its range. */
class MemoryBackend implements StoreBackend {
  readonly #entries = new BTree<string, StoreEntry>();
  #meta: StoreMeta | null = null;

  get(key: Buffer): Buffer | undefined {
    return this.#entries.get(binaryKey(key))?.[1];
  }

  *range(from: Buffer | undefined, to: Buffer | undefined): Iterable<StoreEntry> {
    const lo = from === undefined ? '' : binaryKey(from);
    const hi = to === undefined ? null : binaryKey(to);
    // Lazily, as lmdb's: the backend changes only at a commit, never while an operator scans.
    for (const [k, entry] of this.#entries.entries(lo)) {
      if (hi !== null && k >= hi) return;
      yield entry;
    }
  }

  async write(changes: readonly StoreChange[], meta: StoreMeta): Promise<void> {
    for (const [key, value] of changes) {
      const k = binaryKey(key);
      if (value === null) this.#entries.delete(k);
      else this.#entries.set(k, [Buffer.from(key), Buffer.from(value)]);
    }
    this.#meta = { ...meta };
  }

  meta(): StoreMeta | null {
    return this.#meta;
  }

  async clear(): Promise<void> {
    this.#entries.clear();
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
