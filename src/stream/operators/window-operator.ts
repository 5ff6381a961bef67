import type { Aggregator } from '../aggregates/aggregator.ts';
import { decodeState, encodeState, stateKey, stateKeyRange } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { HoppingWindows, TumblingWindows, WindowAssigner } from '../windows/assigners.ts';
import { earliestHolding, maxTimestamp, type Window, windowStart } from '../windows/window.ts';
import { changedWindow, earlyResults } from './early-results.ts';
import { Timers } from './timers.ts';
import { WindowCache } from './window-cache.ts';
import {
  type Bucket,
  bySeq,
  chunkedRange,
  identityOf,
  type KeyId,
  newSlot,
  openSlot,
  type Slot,
  stateOf,
  type WindowState,
} from './window-slots.ts';
import type { WindowSteps } from './window-steps.ts';

/**
 * One result of a window: `early` before it closes (with the updates or early emit modes), `final`
 * when the watermark passes its end, `update` when a late record changes it after that.
 */
export interface WindowResult<K, R> {
  key: K;
  window: Window;
  value: R;
  kind: 'early' | 'final' | 'update';
  /** Earlier results this one supersedes: session windows that a record merged into this one. */
  replaces?: Window[];
}

/** A record too late for every window it belongs to (beyond allowed lateness). */
export interface LateRecord<T, K> {
  record: T;
  key: K;
  eventTime: number;
  watermark: number;
}

export interface WindowOperatorOptions<T, A, R> {
  /** The step's name. */
  name: string;
  assigner: WindowAssigner;
  aggregator: Aggregator<T, A, R>;
  /** How long after a window fires late records still update it (ms). */
  allowedLateness: number;
  /** The step's own store. */
  store: StateStore;
  /** When results come out before a window closes; default only when it closes. */
  emit?: EmitMode;
  /**
   * Memory for this step's windows, in bytes (estimated); default unbounded. Past it, windows
   * unchanged since the last flush leave memory (the store holds them) and are read back when a
   * record or a firing needs them.
   */
  cacheBytes?: number;
}

/**
 * `final`: once, when the watermark passes the window's end. `updates`: also every change, at most
 * once per `interval` of processing time per key and window (0: every record). `early`: also the
 * changed windows every `interval` of processing time.
 */
export type EmitMode =
  | { mode: 'final' }
  | { mode: 'updates'; interval: number }
  | { mode: 'early'; interval: number };

/**
 * Keyed tumbling and hopping event-time windows with allowed lateness, as Flink's WindowOperator with
 * its default event-time trigger: a window fires once when the watermark passes its end, fires again
 * for each late record within the allowed lateness, and is dropped after that (sessions:
 * SessionWindowOperator).
 *
 * Open windows live in memory, within the cache budget, and the windows changed since the last
 * `flush` are written to the StateStore then (before each transaction), so the per-record path
 * builds no strings and does no store lookups. In the store a window's key is (end, start, key):
 * windows sort by time. Windows are grouped by start: every key's window of one span fires, and is
 * dropped, together. Timers are rebuilt from the store when the operator starts.
 */
export class WindowOperator<T, K, A, R> implements WindowSteps<T, K, R> {
  readonly #o: WindowOperatorOptions<T, A, R> & { assigner: TumblingWindows | HoppingWindows };
  /** Tumbling and hopping windows: start → every key's window of that span. */
  readonly #buckets = new Map<number, Bucket<K, A>>();
  /**
   * The buckets used last, by start ÷ slide mod 16: records arrive roughly in time order, so this
   * spares the Map lookup of a start (a heap number) for each of a record's windows.
   */
  readonly #near: Array<Bucket<K, A> | undefined> = new Array(16).fill(undefined);
  readonly #slide: number;
  #seq = 0;
  #lastTime = Number.NaN;
  #lastSlot: Slot<K, A> | null = null;
  #lastStart = 0;
  /** Firing (window end) and clean-up (end + lateness) times, with what is due then. */
  readonly #timers = new Timers<Bucket<K, A>>();
  /** Open windows changed since their last early result. */
  readonly #dirty = new Set<Slot<K, A>>();
  /** Windows changed since the last flush. */
  #touched: Array<Slot<K, A>> = [];
  /** Windows are being loaded from the store (see `loading`). */
  #loading = false;
  /** The memory budget of tumbling and hopping windows. */
  readonly #cache: WindowCache;

  constructor(options: WindowOperatorOptions<T, A, R> & { assigner: TumblingWindows | HoppingWindows }) {
    this.#o = options;
    const a = options.assigner;
    this.#slide = a.kind === 'hopping' ? a.slide : a.size;
    this.#cache = new WindowCache(options.cacheBytes);
  }

  /** Adds a record; emits updates of already fired windows at once; too-late records go to `late`. */
  process(
    record: T,
    key: K,
    eventTime: number,
    watermark: number,
    out: (r: WindowResult<K, R>) => void,
    late: (l: LateRecord<T, K>) => void,
    now = 0,
  ): void {
    const id = identityOf(key);
    const assigner = this.#o.assigner;
    let accepted = 0;
    // The windows are computed here rather than allocated per record.
    const size = assigner.size;
    const slide = this.#slide;
    // The last window's start; records come in runs of one time, so it is worked out once per run.
    if (eventTime !== this.#lastTime) {
      this.#lastTime = eventTime;
      this.#lastStart = windowStart(eventTime, assigner.offset, slide);
    }
    const last = this.#lastStart;
    for (let start = earliestHolding(last, size, slide); start <= last; start += slide) {
      if (start + size <= eventTime || start + size - 1 + this.#o.allowedLateness <= watermark) continue;
      accepted++;
      this.#add1(this.#slotOf(key, id, start, start + size), record, eventTime, watermark, now, out);
    }
    if (accepted === 0) late({ record, key, eventTime, watermark });
  }

  /** Fires the windows the watermark has passed and drops those past their lateness, in time order. */
  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void {
    for (let due = this.#timers.next(watermark); due; due = this.#timers.next(watermark)) {
      for (const bucket of due) {
        if (bucket.dropped) continue;
        if (bucket.evicted) this.#reloadAll(bucket);
        // In the order they opened: a Map keeps it, and a loaded bucket is sorted once (see `loading`).
        if (bucket.unordered) {
          bucket.slots = bySeq(bucket.slots);
          bucket.unordered = false;
        }
        for (const slot of bucket.slots.values()) this.#fire(slot, watermark, out);
        if (this.#tooLate(bucket, watermark)) this.#dropBucket(bucket);
      }
    }
  }

  /** Processing time moved on: early results of changed windows that are due. */
  onProcessingTime(now: number, out: (r: WindowResult<K, R>) => void): void {
    earlyResults(this.#o.emit, this.#o.store, this.#dirty, now, (slot) => this.#early(slot, now, out));
  }

  /** Writes the windows changed since the last flush to the store. */
  flush(): void {
    const touched = this.#touched;
    this.#touched = [];
    for (const slot of touched) {
      if (!slot.touched || slot.dropped) continue;
      slot.touched = false;
      const bytes = encodeState(stateOf(slot));
      this.#o.store.put(windowKey(slot), bytes);
      slot.stored = true;
      this.#cache.stored(bytes.length);
    }
    this.#cache.evict(
      this.#buckets.values(),
      (slot) => !slot.touched && slot.stored && !slot.dirty,
      (slot) => {
        if (this.#lastSlot === slot) this.#lastSlot = null;
      },
    );
  }

  /** Rebuilds the open windows, timers and dirty set from the store, at once. */
  restored(): void {
    for (const _ of this.loading());
  }

  /**
   * Rebuilds the open windows, timers and dirty set from the store, a chunk per step: the runtime
   * lets the event loop run between steps, so a task with a million windows does not stall the
   * process while it starts. Windows come in key (time) order; a bucket puts its windows back in the
   * order they opened before it fires, so a restarted task emits what an uninterrupted one does.
   */
  *loading(): Generator<void> {
    this.#buckets.clear();
    this.#near.fill(undefined);
    this.#lastSlot = null;
    this.#timers.clear();
    this.#dirty.clear();
    this.#touched = [];
    this.#cache.count = 0;
    let seq = -1;
    this.#loading = true;
    // Past the cache budget only the buckets are made (their timers must run); their windows stay in the store.
    try {
      yield* chunkedRange(this.#o.store, WINDOWS_FROM, WINDOWS_TO, (bytes) => {
        const state = decodeState<WindowState<K, A>>(bytes);
        if (state.seq > seq) seq = state.seq;
        const id = identityOf(state.key);
        const slot = this.#add(state, id);
        slot.stored = true;
        slot.touched = false;
        if (state.dirty) this.#dirty.add(slot);
        else if (this.#cache.over(bytes.length)) {
          const bucket = this.#buckets.get(state.start)!;
          bucket.slots.delete(id);
          bucket.evicted = true;
          this.#cache.count--;
        }
      });
    } finally {
      this.#loading = false;
    }
    this.#seq = seq + 1;
  }

  /** One record into one window. */
  #add1(
    slot: Slot<K, A>,
    record: T,
    eventTime: number,
    watermark: number,
    now: number,
    out: (r: WindowResult<K, R>) => void,
  ): void {
    slot.acc = this.#o.aggregator.add(slot.acc, record, eventTime);
    this.#touch(slot);
    if (slot.fired) this.#emit(slot, 'update', out);
    else if (maxTimestamp(slot) <= watermark) {
      // A key's first record in a window that has already fired (within the lateness): it fires now.
      slot.fired = true;
      this.#emit(slot, 'final', out);
    } else if (this.#o.emit !== undefined && this.#o.emit.mode !== 'final')
      // Tested first: the per-record path of final results allocates nothing for it.
      changedWindow(this.#o.emit, slot, now, this.#dirty, (w) => this.#early(w, now, out));
  }

  #fire(slot: Slot<K, A>, watermark: number, out: (r: WindowResult<K, R>) => void): void {
    if (slot.fired || maxTimestamp(slot) > watermark) return;
    slot.fired = true;
    this.#touch(slot);
    this.#emit(slot, 'final', out);
  }

  #early(slot: Slot<K, A>, now: number, out: (r: WindowResult<K, R>) => void): void {
    slot.dirty = false;
    slot.emittedAt = now;
    this.#touch(slot);
    this.#emit(slot, 'early', out);
  }

  #tooLate(w: Window, watermark: number): boolean {
    return maxTimestamp(w) + this.#o.allowedLateness <= watermark;
  }

  #slotOf(key: K, id: KeyId, start: number, end: number): Slot<K, A> {
    // Runs of one key and window (a hot key; results of one window keyed by its start) skip the lookups.
    const last = this.#lastSlot;
    if (last !== null && last.id === id && last.start === start && !last.dropped) return last;
    const slot = this.#findOrOpen(key, id, start, end);
    this.#lastSlot = slot;
    return slot;
  }

  #findOrOpen(key: K, id: KeyId, start: number, end: number): Slot<K, A> {
    let bucket = this.#bucketAt(start);
    if (bucket === undefined) bucket = this.#newBucket(start, end);
    else {
      const open = bucket.slots.get(id) ?? (bucket.evicted ? this.#reload(bucket, id) : undefined);
      if (open !== undefined) return open;
    }
    const slot = openSlot<K, A>(key, id, start, end, this.#o.aggregator.init(), this.#seq++, bucket.window);
    bucket.slots.set(id, slot);
    this.#cache.count++;
    this.#touched.push(slot);
    return slot;
  }

  #bucketAt(start: number): Bucket<K, A> | undefined {
    const i = this.#nearIndex(start);
    const near = this.#near[i];
    if (near !== undefined && near.start === start && !near.dropped) {
      near.used = this.#cache.use();
      return near;
    }
    const bucket = this.#buckets.get(start);
    if (bucket !== undefined) {
      this.#near[i] = bucket;
      bucket.used = this.#cache.use();
    }
    return bucket;
  }

  #nearIndex(start: number): number {
    return Math.floor(start / this.#slide) & 15;
  }

  /** A window now open: in memory and on the timers; the store gets it at the next flush. */
  #add(state: WindowState<K, A>, id: KeyId): Slot<K, A> {
    const slot = newSlot(state, id);
    this.#touched.push(slot);
    const bucket = this.#bucketAt(state.start) ?? this.#newBucket(state.start, state.end);
    slot.window = bucket.window;
    bucket.slots.set(id, slot);
    this.#cache.count++;
    return slot;
  }

  #newBucket(start: number, end: number): Bucket<K, A> {
    const bucket: Bucket<K, A> = {
      start,
      end,
      window: Object.freeze({ start, end }),
      slots: new Map(),
      dropped: false,
      unordered: this.#loading,
      evicted: false,
      used: this.#cache.use(),
    };
    this.#buckets.set(start, bucket);
    this.#near[this.#nearIndex(start)] = bucket;
    this.#timers.add(end, bucket);
    if (this.#o.allowedLateness > 0) this.#timers.add(end + this.#o.allowedLateness, bucket);
    return bucket;
  }

  #dropBucket(bucket: Bucket<K, A>): void {
    bucket.dropped = true;
    this.#buckets.delete(bucket.start);
    this.#cache.count -= bucket.slots.size;
    for (const slot of bucket.slots.values()) this.#forget(slot);
    // Windows only in the store go from there too.
    if (bucket.evicted)
      for (const key of [...this.#o.store.range(...bucketRange(bucket))].map(([k]) => k))
        this.#o.store.delete(key);
  }

  /** A window of a bucket that only the store holds, back in memory; undefined if the store has none. */
  #reload(bucket: Bucket<K, A>, id: KeyId): Slot<K, A> | undefined {
    const bytes = this.#o.store.get(stateKey([1, bucket.end, bucket.start, id]));
    return bytes === undefined
      ? undefined
      : this.#restoreInto(bucket, decodeState<WindowState<K, A>>(bytes), id);
  }

  /** Every window of a bucket back in memory, before it fires. */
  #reloadAll(bucket: Bucket<K, A>): void {
    for (const [, bytes] of this.#o.store.range(...bucketRange(bucket))) {
      const state = decodeState<WindowState<K, A>>(bytes);
      const id = identityOf(state.key);
      if (!bucket.slots.has(id)) this.#restoreInto(bucket, state, id);
    }
    bucket.evicted = false;
  }

  #restoreInto(bucket: Bucket<K, A>, state: WindowState<K, A>, id: KeyId): Slot<K, A> {
    const slot = newSlot(state, id);
    slot.window = bucket.window;
    slot.stored = true;
    slot.touched = false;
    bucket.slots.set(id, slot);
    // Back in a different order than it opened in: the bucket is sorted before it fires.
    bucket.unordered = true;
    this.#cache.count++;
    return slot;
  }

  /** Tumbling and hopping windows in memory. */
  get cachedWindows(): number {
    return this.#cache.count;
  }

  #forget(slot: Slot<K, A>): void {
    slot.dropped = true;
    if (slot.dirty) this.#dirty.delete(slot);
    if (slot.stored) {
      slot.stored = false;
      this.#o.store.delete(windowKey(slot));
    }
  }

  #touch(slot: Slot<K, A>): void {
    if (slot.touched) return;
    slot.touched = true;
    this.#touched.push(slot);
  }

  #emit(slot: Slot<K, A>, kind: WindowResult<K, R>['kind'], out: (r: WindowResult<K, R>) => void): void {
    const result: WindowResult<K, R> = {
      key: slot.key,
      window: slot.window ?? { start: slot.start, end: slot.end },
      value: this.#o.aggregator.result(slot.acc),
      kind,
    };
    if (slot.replaces) {
      result.replaces = slot.replaces;
      slot.replaces = undefined;
      this.#touch(slot);
    }
    out(result);
  }
}

/** A window's key in the store: (1, end, start, key), so windows sort by when they end. */
function windowKey(slot: Slot<unknown, unknown>): Buffer {
  slot.storeKey ??= stateKey([1, slot.end, slot.start, slot.id]);
  return slot.storeKey;
}
/** The store keys of a bucket's windows: (1, end, start, *). */
function bucketRange(bucket: { start: number; end: number }): [Buffer, Buffer] {
  return stateKeyRange([1, bucket.end, bucket.start]);
}
const WINDOWS_FROM = stateKey([1]);
const WINDOWS_TO = stateKey([2]);
