import type { StoreChange, StoreEntry, StoreMeta } from './state-store.ts';

/** What a store keeps durably: committed entries and meta. OverlayStore adds the pending writes. */
export interface StoreBackend {
  get(key: Buffer): Buffer | undefined;
  range(from: Buffer | undefined, to: Buffer | undefined): Iterable<StoreEntry>;
  /** Applies changes and meta in one atomic write. */
  write(changes: readonly StoreChange[], meta: StoreMeta): Promise<void>;
  meta(): StoreMeta | null;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Keys as latin1 strings: one char per byte, so string order is byte order and a Map can hold them. */
export const binaryKey = (key: Buffer): string => key.toString('latin1');
