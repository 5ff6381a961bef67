import type { KeyId } from './window-slots.ts';

/** What a window costs in memory beyond its stored bytes: the slot object, its Map entry, its accumulator's objects. */
const SLOT_OVERHEAD_BYTES = 300;

/** A group of windows that fire or drop together (a bucket of one span, a slice), as the cache sees it. */
export interface CachedGroup<S> {
  slots: Map<KeyId, S>;
  /** Some of its windows are only in the store. */
  evicted: boolean;
  /** When it was used last (the cache's use counter). */
  used: number;
}

/**
 * The memory budget of one window step's tumbling and hopping windows (WindowOperator's buckets,
 * SlicedWindowOperator's slices): how many are held, what one takes (its stored size, averaged,
 * plus an overhead), and which leave memory when the budget is passed: windows a store holds as
 * they are, from the groups used least recently, until a quarter of the budget is free. The
 * operators read evicted windows back themselves.
 */
export class WindowCache {
  readonly #budget: number;
  /** Windows in memory. */
  count = 0;
  #storedBytes = 64;
  #uses = 0;

  constructor(budget: number | undefined) {
    this.#budget = budget ?? Number.POSITIVE_INFINITY;
  }

  /** A tick of the use counter, for a group just used. */
  use(): number {
    return ++this.#uses;
  }

  /** A window was written to the store in `bytes`. */
  stored(bytes: number): void {
    this.#storedBytes += (bytes - this.#storedBytes) / 64;
  }

  /** The windows held, each taking about `bytes` in the store, pass the budget (for a restore, before any flush). */
  over(bytes = this.#storedBytes): boolean {
    return this.count * (bytes + SLOT_OVERHEAD_BYTES) > this.#budget;
  }

  /** How many windows must leave memory to bring it down to three quarters of the budget; 0 within it. */
  excess(): number {
    if (!this.over()) return 0;
    return this.count - Math.floor((this.#budget * 0.75) / (this.#storedBytes + SLOT_OVERHEAD_BYTES));
  }

  /** Past the budget: `evictable` windows leave their groups, least recently used groups first. */
  evict<S>(
    groups: Iterable<CachedGroup<S>>,
    evictable: (slot: S) => boolean,
    evicted: (slot: S) => void = () => {},
  ): void {
    const keep = this.count - this.excess();
    if (keep === this.count) return;
    for (const group of [...groups].sort((a, b) => a.used - b.used))
      for (const [id, slot] of group.slots) {
        if (this.count <= keep) return;
        if (!evictable(slot)) continue;
        group.slots.delete(id);
        group.evicted = true;
        this.count--;
        evicted(slot);
      }
  }
}
