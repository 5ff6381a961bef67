/**
 * Keyed operator state of one step of one task: ordered byte keys to byte values, as Kafka Streams'
 * KeyValueStore and Quix Streams' Store hold them. Memory (tests, `runPipeline`) and lmdb (the
 * runtime) sit behind this one contract and pass one suite (test/stream/state-store-contract.ts).
 *
 * Writes are pending until `commit`: reads and scans see them at once, `changes()` hands them out
 * (the last value per key, null for a delete) for the changelog, and `commit(meta)` applies them with
 * the offsets they cover in one atomic write, after the bus transaction that carried their changelog
 * records has committed. `discard()` drops them, so the store never runs ahead of the bus.
 */
export interface StateStore {
  get(key: Buffer): Buffer | undefined;
  put(key: Buffer, value: Buffer): void;
  delete(key: Buffer): void;
  /** Entries with `from` ≤ key < `to` (bytewise), in key order, pending writes included. */
  range(from?: Buffer, to?: Buffer): IterableIterator<StoreEntry>;
  /** The writes pending since the last commit or discard. */
  changes(): StoreChange[];
  /** Number of pending writes. */
  readonly pendingCount: number;
  /** Applies the pending writes and `meta` atomically; reads see them meanwhile. After a failed commit every later one fails. */
  commit(meta: StoreMeta): Promise<void>;
  /** Drops the pending writes. */
  discard(): void;
  /** The meta of the last commit or restore; null for a store never written. */
  meta(): StoreMeta | null;
  /** Writes changes straight in (restoring from a changelog), with `meta`, atomically. */
  restore(changes: readonly StoreChange[], meta: StoreMeta): Promise<void>;
  /** Deletes every entry and the meta. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export type StoreEntry = [key: Buffer, value: Buffer];
export type StoreChange = [key: Buffer, value: Buffer | null];

/** Where a store stands against the bus. */
export interface StoreMeta {
  /** Every record of the step's changelog partition below this offset is in the store. */
  changelogOffset: number;
  /** The task's input offset (next to read) the last commit covered: for logs and checks. */
  inputOffset: number;
}
