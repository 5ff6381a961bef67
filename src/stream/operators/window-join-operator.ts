import type { StateStore } from '../state/state-store.ts';
import type { HoppingWindows, TumblingWindows } from '../windows/assigners.ts';
import { maxTimestamp, type Window } from '../windows/window.ts';
import { JoinBuffer, type JoinEntry } from './join-buffer.ts';
import type { Joined, Operator, OperatorContext, OperatorInput } from './operator.ts';
import { Timers } from './timers.ts';
import { WindowCache } from './window-cache.ts';
import { identityOf, type KeyId } from './window-slots.ts';

export interface WindowJoinOptions {
  assigner: TumblingWindows | HoppingWindows;
  join: (left: unknown, right: unknown, window: Window) => unknown;
  store: StateStore;
  /** Memory for waiting elements (estimated bytes); default unbounded. Past it, whole windows wait in the store only. */
  cacheBytes?: number;
}

type Keyed = Map<KeyId, { key: unknown; sides: [JoinEntry[], JoinEntry[]] }>;

/** One window's elements, per key (in the order each key first came) and side. */
interface Pending {
  window: Readonly<Window>;
  keys: Keyed;
  /** Its elements are in the store only (the cache budget took them out of memory). */
  evicted: boolean;
}

/**
 * A window join, as Flink's `join().where().equalTo().window()`: the elements of both sides wait in
 * their windows, and when the watermark passes a window's end every left element of a key is paired
 * with every right element of the same key and window, in the order they came, each pair emitted at
 * the window's last instant. An element whose windows have all fired is late.
 *
 * Elements are in the store, keyed (window end, seq), and in memory within the cache budget: past
 * it, at a checkpoint, whole windows leave memory, and a window that fires from the store is read
 * back with one scan of its range, which gives its elements in the order they came.
 */
export class WindowJoinOperator implements Operator<Joined> {
  readonly #o: WindowJoinOptions;
  readonly #buffer: JoinBuffer;
  /** Open windows by start. */
  readonly #windows = new Map<number, Pending>();
  readonly #firing = new Timers<Pending>();
  readonly #cache: WindowCache;

  constructor(options: WindowJoinOptions) {
    this.#o = options;
    this.#cache = new WindowCache(options.cacheBytes);
    this.#buffer = new JoinBuffer(options.store, this.#cache);
  }

  /** Elements in memory. */
  get cachedElements(): number {
    return this.#cache.count;
  }

  process(input: OperatorInput, ctx: OperatorContext<Joined>): void {
    const { side, key, eventTime, value } = input;
    const id = identityOf(key);
    let accepted = false;
    for (const w of this.#o.assigner.assign(eventTime)) {
      if (maxTimestamp(w) <= ctx.watermark) continue;
      accepted = true;
      this.#into(this.#buffer.add(side, key, eventTime, value, w.start, w.end), id);
    }
    if (!accepted) ctx.late(input);
  }

  onWatermark(watermark: number, ctx: OperatorContext<Joined>): void {
    const { join } = this.#o;
    for (let due = this.#firing.next(watermark); due; due = this.#firing.next(watermark))
      for (const pending of due) {
        const { window } = pending;
        const eventTime = maxTimestamp(window);
        const keys = pending.evicted ? this.#read(window) : pending.keys;
        for (const { key, sides } of keys.values()) {
          const [lefts, rights] = sides;
          for (const l of lefts)
            for (const r of rights) ctx.emit({ key, value: join(l.value, r.value, window), eventTime });
          for (const e of lefts) this.#buffer.drop(e);
          for (const e of rights) this.#buffer.drop(e);
          if (!pending.evicted) this.#cache.count -= lefts.length + rights.length;
        }
        this.#windows.delete(window.start);
      }
  }

  /** The new and dropped elements into the store; past the cache budget, windows leave memory, the latest to close first. */
  onCheckpoint(): void {
    this.#buffer.checkpoint();
    let excess = this.#cache.excess();
    if (excess === 0) return;
    for (const pending of [...this.#windows.values()].sort((a, b) => b.window.end - a.window.end)) {
      if (excess <= 0) return;
      if (pending.evicted) continue;
      const before = this.#cache.count;
      this.#evict(pending);
      excess -= before - this.#cache.count;
    }
  }

  *loading(): Generator<void> {
    this.#windows.clear();
    this.#firing.clear();
    this.#cache.count = 0;
    // In (end, seq) order, so a window's elements come together and in the order they came.
    yield* this.#buffer.loading((entry) => {
      this.#into(entry, identityOf(entry.key));
      if (this.#cache.over()) this.#evict(this.#windows.get(entry.windowStart)!);
    });
  }

  #into(entry: JoinEntry, id: KeyId): void {
    let pending = this.#windows.get(entry.windowStart);
    if (pending === undefined) {
      const window = Object.freeze({ start: entry.windowStart, end: entry.windowEnd });
      this.#windows.set(window.start, (pending = { window, keys: new Map(), evicted: false }));
      this.#firing.add(window.end, pending);
    }
    // A window only in the store gets its new elements there (at the next checkpoint, or when it fires).
    if (pending.evicted) return;
    add(pending.keys, entry, id);
    this.#cache.count++;
  }

  #evict(pending: Pending): void {
    for (const { sides } of pending.keys.values()) this.#cache.count -= sides[0].length + sides[1].length;
    pending.keys = new Map();
    pending.evicted = true;
  }

  /** A window's elements from the store, the new ones written first. */
  #read(window: Window): Keyed {
    this.#buffer.checkpoint();
    const keys: Keyed = new Map();
    for (const entry of this.#buffer.window(window.end)) add(keys, entry, identityOf(entry.key));
    return keys;
  }
}

function add(keys: Keyed, entry: JoinEntry, id: KeyId): void {
  let keyed = keys.get(id);
  if (keyed === undefined) keys.set(id, (keyed = { key: entry.key, sides: [[], []] }));
  keyed.sides[entry.side].push(entry);
}
