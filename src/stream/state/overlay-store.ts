import { createRequire } from 'node:module';
import { StateStoreError } from './state-errors.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import { binaryKey, type StoreBackend } from './store-backend.ts';

// sorted-btree is CommonJS with its class as `exports.default`, which Node's ES import does not
// unwrap and Vite's does: required, it is the same class under both.
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof import('sorted-btree')).default;
/** Changes by key (latin1, so string order is byte order), sorted: a scan reads only its range. */
type Layer = InstanceType<typeof BTree<string, StoreChange>>;

/**
 * A StateStore over a backend: the pending writes of the open transaction, and those of commits not
 * yet written, sit in memory layers that reads and scans merge in front of the backend (the
 * "in-memory overlay" of DESIGN.md, as KIP-892 gives Kafka Streams its transactional stores). The
 * layers are B+ trees, so a scan of a small range costs the same however many writes are pending
 * (an operator scans its timers, a join one key's elements, while a transaction is open).
 */
export class OverlayStore implements StateStore {
  readonly #backend: StoreBackend;
  #pending: Layer = new BTree<string, StoreChange>();
  /** Commits being written, oldest first. */
  readonly #writing: Layer[] = [];
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
    const lo = from === undefined ? '' : binaryKey(from);
    const hi = to === undefined ? null : binaryKey(to);
    // The layers' changes in range, the newest per key, in key order, taken before the first entry
    // is handed out: the caller may write while it scans.
    let changes: Array<[string, StoreChange]> = [];
    const layers = [...this.#writing, this.#pending].filter((layer) => layer.size > 0);
    for (const layer of layers) {
      const inRange: Array<[string, StoreChange]> = [];
      if (hi === null) for (const entry of layer.entries(lo)) inRange.push(entry);
      else if (lo < hi) layer.forRange(lo, hi, false, (k, change) => void inRange.push([k, change]));
      changes = layers.length === 1 ? inRange : [...changes, ...inRange];
    }
    if (layers.length > 1) changes = [...new Map(changes)].sort((a, b) => (a[0] < b[0] ? -1 : 1));
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

  /** In key order. */
  changes(): StoreChange[] {
    return this.#pending.valuesArray();
  }

  async commit(meta: StoreMeta): Promise<void> {
    if (this.#failed !== null)
      throw new StateStoreError('An earlier commit of this store failed', this.#failed);
    const layer = this.#pending;
    this.#pending = new BTree<string, StoreChange>();
    this.#writing.push(layer);
    try {
      await this.#backend.write(layer.valuesArray(), meta);
    } catch (error) {
      // The backend holds the meta of the last good commit; what came after is only in the changelog.
      this.#failed = error;
      throw new StateStoreError('Writing state failed', error);
    } finally {
      this.#writing.splice(this.#writing.indexOf(layer), 1);
    }
  }

  discard(): void {
    this.#pending = new BTree<string, StoreChange>();
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
    this.#pending = new BTree<string, StoreChange>();
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
