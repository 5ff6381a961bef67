import { StateStoreError } from './state-errors.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import { binaryKey, type StoreBackend } from './store-backend.ts';

/**
 * A StateStore over a backend: the pending writes of the open transaction, and those of commits not
 * yet written, sit in memory layers that reads and scans merge in front of the backend (the
 * "in-memory overlay" of DESIGN.md, as KIP-892 gives Kafka Streams its transactional stores).
 */
export class OverlayStore implements StateStore {
  readonly #backend: StoreBackend;
  #pending = new Map<string, StoreChange>();
  /** Commits being written, oldest first. */
  readonly #writing: Array<Map<string, StoreChange>> = [];
  #failed: unknown = null;

  constructor(backend: StoreBackend) {
    this.#backend = backend;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  get(key: Buffer): Buffer | undefined {
    const change = this.#layered(binaryKey(key));
    if (change !== undefined) return change[1] ?? undefined;
    return this.#backend.get(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.#pending.set(binaryKey(key), [key, value]);
  }

  delete(key: Buffer): void {
    this.#pending.set(binaryKey(key), [key, null]);
  }

  *range(from?: Buffer, to?: Buffer): IterableIterator<StoreEntry> {
    const lo = from === undefined ? null : binaryKey(from);
    const hi = to === undefined ? null : binaryKey(to);
    // The layers' changes in range, the newest per key, in key order.
    const overlay = new Map<string, StoreChange>();
    for (const layer of [...this.#writing, this.#pending])
      for (const [k, change] of layer)
        if ((lo === null || k >= lo) && (hi === null || k < hi)) overlay.set(k, change);
    const changes = [...overlay].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let i = 0;
    for (const entry of this.#backend.range(from, to)) {
      const k = binaryKey(entry[0]);
      while (i < changes.length && changes[i]![0] < k) {
        const [, [key, value]] = changes[i++]!;
        if (value !== null) yield [key, value];
      }
      if (i < changes.length && changes[i]![0] === k) {
        const [, [key, value]] = changes[i++]!;
        if (value !== null) yield [key, value];
        continue;
      }
      yield entry;
    }
    for (; i < changes.length; i++) {
      const [, [key, value]] = changes[i]!;
      if (value !== null) yield [key, value];
    }
  }

  changes(): StoreChange[] {
    return [...this.#pending.values()];
  }

  async commit(meta: StoreMeta): Promise<void> {
    if (this.#failed !== null)
      throw new StateStoreError('An earlier commit of this store failed', this.#failed);
    const layer = this.#pending;
    this.#pending = new Map();
    this.#writing.push(layer);
    try {
      await this.#backend.write([...layer.values()], meta);
    } catch (error) {
      // The backend holds the meta of the last good commit; what came after is only in the changelog.
      this.#failed = error;
      throw new StateStoreError('Writing state failed', error);
    } finally {
      this.#writing.splice(this.#writing.indexOf(layer), 1);
    }
  }

  discard(): void {
    this.#pending = new Map();
  }

  meta(): StoreMeta | null {
    return this.#backend.meta();
  }

  async restore(changes: readonly StoreChange[], meta: StoreMeta): Promise<void> {
    if (this.#pending.size > 0 || this.#writing.length > 0)
      throw new StateStoreError('A store restores only with no writes pending');
    await this.#backend.write(changes, meta);
  }

  async clear(): Promise<void> {
    this.#pending = new Map();
    await this.#backend.clear();
    this.#failed = null;
  }

  close(): Promise<void> {
    return this.#backend.close();
  }

  #layered(k: string): StoreChange | undefined {
    const pending = this.#pending.get(k);
    if (pending !== undefined) return pending;
    for (let i = this.#writing.length - 1; i >= 0; i--) {
      const change = this.#writing[i]!.get(k);
      if (change !== undefined) return change;
    }
    return undefined;
  }
}
