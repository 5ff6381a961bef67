/**
 * Keyed operator state, by namespace (a step's name) and key, with snapshots: the next engine issue
 * checkpoints snapshots with source offsets, and restores them after a crash. Values must be
 * JSON-serializable. One contract, memory now and more backends later, as Quix Streams has one Store
 * with memory and RocksDB behind it.
 */
export interface StateStore {
  get<V>(namespace: string, key: string): V | undefined;
  put<V>(namespace: string, key: string, value: V): void;
  delete(namespace: string, key: string): void;
  /** Every key of a namespace, in insertion order. */
  entries<V>(namespace: string): IterableIterator<[string, V]>;
  /** All state, as a JSON-serializable value. */
  snapshot(): StateSnapshot;
  /** Replaces all state with a snapshot's. */
  restore(snapshot: StateSnapshot): void;
}

export type StateSnapshot = Record<string, Array<[string, unknown]>>;

export class MemoryStateStore implements StateStore {
  #namespaces = new Map<string, Map<string, unknown>>();

  #ns(namespace: string): Map<string, unknown> {
    let ns = this.#namespaces.get(namespace);
    if (!ns) this.#namespaces.set(namespace, (ns = new Map()));
    return ns;
  }

  get<V>(namespace: string, key: string): V | undefined {
    return this.#namespaces.get(namespace)?.get(key) as V | undefined;
  }

  put<V>(namespace: string, key: string, value: V): void {
    this.#ns(namespace).set(key, value);
  }

  delete(namespace: string, key: string): void {
    this.#namespaces.get(namespace)?.delete(key);
  }

  entries<V>(namespace: string): IterableIterator<[string, V]> {
    return (this.#namespaces.get(namespace) ?? new Map()).entries() as IterableIterator<[string, V]>;
  }

  snapshot(): StateSnapshot {
    // A deep copy: later changes must not reach a snapshot already taken.
    return JSON.parse(JSON.stringify(Object.fromEntries([...this.#namespaces].map(([n, m]) => [n, [...m]]))));
  }

  restore(snapshot: StateSnapshot): void {
    this.#namespaces = new Map(
      Object.entries(structuredClone(snapshot)).map(([n, entries]) => [n, new Map(entries)]),
    );
  }
}
