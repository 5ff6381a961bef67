import { decodeState, encodeState, stateKey, stateKeyRange } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { WindowCache } from './window-cache.ts';
import { chunkedRange } from './window-slots.ts';

/** One buffered element of a join's input, as the join keeps it in memory and in its store. */
export interface JoinEntry {
  side: 0 | 1;
  key: unknown;
  eventTime: number;
  value: unknown;
  /** The window it waits in (window joins); 0 for interval joins. */
  windowStart: number;
  windowEnd: number;
  /** Buffered as the join's seq-th element: a join pairs its entries in this order, also after a restore. */
  seq: number;
  /** The store holds it. */
  stored: boolean;
  /** Dropped (expired or fired) before the next checkpoint. */
  dropped: boolean;
}

const FROM = stateKey([1]);
const TO = stateKey([2]);

/**
 * The elements a window join holds, written to its step's store at each checkpoint: a new element as one
 * put, a dropped one as one delete (a tombstone in the changelog), one that came and went between
 * two checkpoints not at all. Keys are (window end, seq): a scan walks them in time order.
 */
export class JoinBuffer {
  readonly #store: StateStore;
  /** Told the size of each entry written, for its estimate of what an entry takes. */
  readonly #cache: WindowCache | undefined;
  #seq = 0;
  #changed: JoinEntry[] = [];

  constructor(store: StateStore, cache?: WindowCache) {
    this.#store = store;
    this.#cache = cache;
  }

  add(
    side: 0 | 1,
    key: unknown,
    eventTime: number,
    value: unknown,
    windowStart = 0,
    windowEnd = 0,
  ): JoinEntry {
    const entry: JoinEntry = {
      side,
      key,
      eventTime,
      value,
      windowStart,
      windowEnd,
      seq: this.#seq++,
      stored: false,
      dropped: false,
    };
    this.#changed.push(entry);
    return entry;
  }

  drop(entry: JoinEntry): void {
    entry.dropped = true;
    if (entry.stored) this.#changed.push(entry);
  }

  /** The changes since the last checkpoint, as pending writes of the store. */
  checkpoint(): void {
    const changed = this.#changed;
    this.#changed = [];
    for (const entry of changed) {
      if (entry.dropped) {
        if (entry.stored) this.#store.delete(keyOf(entry));
        entry.stored = false;
      } else if (!entry.stored) {
        const { side, key, eventTime, value, windowStart, windowEnd, seq } = entry;
        const bytes = encodeState([side, key, eventTime, value, windowStart, windowEnd, seq]);
        this.#store.put(keyOf(entry), bytes);
        this.#cache?.stored(bytes.length);
        entry.stored = true;
      }
    }
  }

  /** The stored entries, in (window end, seq) order, a chunk per step; `each` gets every one. */
  *loading(each: (entry: JoinEntry) => void): Generator<void> {
    this.#changed = [];
    let seq = -1;
    yield* chunkedRange(this.#store, FROM, TO, (bytes) => {
      const entry = decodeEntry(bytes);
      if (entry.seq > seq) seq = entry.seq;
      each(entry);
    });
    this.#seq = seq + 1;
  }

  /** The stored entries of the window that ends at `end`, in the order they came. */
  *window(end: number): Generator<JoinEntry> {
    for (const [, bytes] of this.#store.range(...stateKeyRange([1, end]))) yield decodeEntry(bytes);
  }
}

function decodeEntry(bytes: Buffer): JoinEntry {
  const [side, key, eventTime, value, windowStart, windowEnd, seq] =
    decodeState<[0 | 1, unknown, number, unknown, number, number, number]>(bytes);
  return { side, key, eventTime, value, windowStart, windowEnd, seq, stored: true, dropped: false };
}

function keyOf(entry: JoinEntry): Buffer {
  return stateKey([1, entry.windowEnd, entry.seq]);
}
