import { createRequire } from 'node:module';
import { StateStoreError } from './state-errors.ts';
import type { StateStore, StoreChange, StoreEntry, StoreMeta } from './state-store.ts';
import { binaryKey, type StoreBackend } from './store-backend.ts';

// sorted-btree is CommonJS with its class as `exports.default`, which Node's ES import does not
// unwrap and Vite's does: required, it is the same class under both.
export const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof import('sorted-btree'))
  .default;
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
  /** The open layer as scans still reading it found it: a write first clones it (see `range`). */
  #scanned: Layer | null = null;
  #openScans = 0;
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
    this.#writable().set(binaryKey(key), [key, value]);
  }

  delete(key: Buffer): void {
    const k = binaryKey(key);
    // A key written since the last commit and held nowhere below needs no tombstone: the backend
    // and the changelog never had it. Without this, state that comes and goes between commits (a
    // session's timers, a window opened and dropped) would leave tombstones that every scan of
    // their range walks, and a task never committed (runPipeline) would slow down as it runs.
    const pending = this.#writable();
    if (pending.has(k) && !this.#below(k, key)) pending.delete(k);
    else pending.set(k, [key, null]);
  }

  *range(from?: Buffer, to?: Buffer): IterableIterator<StoreEntry> {
    const lo = from === undefined ? '' : binaryKey(from);
    const hi = to === undefined ? null : binaryKey(to);
    if (hi !== null && lo >= hi) return;
    // Read as the caller goes, so a scan that stops early costs what it read: the layers as they
    // are now. The caller may write while it scans: the first such write clones the open layer
    // (copy-on-write) and goes to the clone, so the scan reads on what it started with. A scan
    // with no write during it clones nothing (an operator scans its timers at nearly every
    // watermark, and writes only between scans). The newest change of a key wins.
    const pending = this.#pending;
    this.#openScans++;
    this.#scanned = pending;
    try {
      yield* this.#merged(from, to, lo, hi, [...this.#writing, pending]);
    } finally {
      if (--this.#openScans === 0) this.#scanned = null;
    }
  }

  /** The open layer, cloned first if a scan is reading it. */
  #writable(): Layer {
    if (this.#pending === this.#scanned) this.#pending = this.#pending.clone();
    return this.#pending;
  }

  *#merged(
    from: Buffer | undefined,
    to: Buffer | undefined,
    lo: string,
    hi: string | null,
    all: Layer[],
  ): Generator<StoreEntry> {
    const layers = all.filter((layer) => layer.size > 0);
    const changes = newestChanges(layers.map((layer) => upTo(layer.entries(lo), hi)));
    let next = changes.next();
    for (const entry of this.#backend.range(from, to)) {
      const k = binaryKey(entry[0]);
      while (!next.done && next.value[0] < k) {
        const [, [key, value]] = next.value;
        next = changes.next();
        if (value !== null) yield [key, value];
      }
      if (!next.done && next.value[0] === k) {
        const [, [key, value]] = next.value;
        next = changes.next();
        if (value !== null) yield [key, value];
        continue;
      }
      yield entry;
    }
    for (; !next.done; next = changes.next()) {
      const [, [key, value]] = next.value;
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

  /** Whether a commit being written or the backend holds the key. */
  #below(k: string, key: Buffer): boolean {
    for (const layer of this.#writing) if (layer.has(k)) return true;
    return this.#backend.get(key) !== undefined;
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

type Change = [string, StoreChange];

/** A layer's changes from where its iterator starts to `hi` (exclusive; null: to its end). */
function* upTo(changes: Iterator<Change>, hi: string | null): Generator<Change> {
  for (let next = changes.next(); !next.done; next = changes.next()) {
    if (hi !== null && next.value[0] >= hi) return;
    yield next.value;
  }
}

/** Sorted layers merged in key order, oldest first: for a key in several, the newest layer's change. */
function* newestChanges(layers: Array<Iterator<Change>>): Generator<Change> {
  if (layers.length === 1) {
    yield* { [Symbol.iterator]: () => layers[0]! };
    return;
  }
  const heads = layers.map((layer) => layer.next());
  for (;;) {
    let min: string | null = null;
    for (const head of heads) if (!head.done && (min === null || head.value[0] < min)) min = head.value[0];
    if (min === null) return;
    let newest: Change | undefined;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!;
      if (head.done || head.value[0] !== min) continue;
      newest = head.value;
      heads[i] = layers[i]!.next();
    }
    yield newest!;
  }
}
