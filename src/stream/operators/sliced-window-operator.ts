import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { HoppingWindows } from '../windows/assigners.ts';
import { earliestHolding, type Window, windowStart } from '../windows/window.ts';
import { Timers } from './timers.ts';
import { WindowCache } from './window-cache.ts';
import type { LateRecord, WindowOperatorOptions, WindowResult } from './window-operator.ts';
import { bySeq, chunkedRange, identityOf, type KeyId } from './window-slots.ts';
import type { WindowSteps } from './window-steps.ts';

/** One key's accumulator over one slice. */
interface SliceSlot<K, A> {
  key: K;
  id: KeyId;
  acc: A;
  /** Opened as the operator's seq-th slot: a restore opens them again in this order. */
  seq: number;
  stored: boolean;
  touched: boolean;
}

/** Every key's accumulator over one slice of time: [start, start + slide). */
interface Slice<K, A> {
  start: number;
  slots: Map<KeyId, SliceSlot<K, A>>;
  /** Loaded from the store in key order: put in the order its keys opened before a window fires. */
  unordered: boolean;
  /** Some of its slots are only in the store (the cache budget dropped them from memory). */
  evicted: boolean;
  /** When it was used last: slices used least recently are evicted first. */
  used: number;
}

type Timer = { fire: number } | { drop: number };

/** What the store keeps of a slot. */
interface StoredSlot<K, A> {
  key: K;
  start: number;
  acc: A;
  seq: number;
}

/**
 * Hopping windows by slices, as Flink's window table functions compute them: time is cut into slices
 * of one slide, each record is added to the one slice it falls in (not to the size ÷ slide windows
 * that hold it), and a window's result is the merge of its slices' accumulators when it fires. A
 * record costs one update however many windows overlap; merging costs at firing, once per key and
 * window. Aggregators' `merge` must leave its arguments as they were (all built-in ones do).
 *
 * Used for hopping windows whose size is a multiple of their slide and which emit only final results
 * (and late updates); the others go to WindowOperator, whose semantics this one keeps: a window fires
 * once the watermark passes its end, a record within the allowed lateness emits the windows it
 * changed again (`final` the first time a key appears in a window that has fired, `update` after
 * that), and a record too late for every window goes to `late`. Keys of a window fire in the order
 * they first appear in its slices, slice by slice.
 */
export class SlicedWindowOperator<T, K, A, R> implements WindowSteps<T, K, R> {
  readonly #o: WindowOperatorOptions<T, A, R>;
  readonly #size: number;
  readonly #slide: number;
  readonly #offset: number;
  readonly #slices = new Map<number, Slice<K, A>>();
  /** Window starts whose firing is armed. */
  readonly #armed = new Set<number>();
  readonly #timers = new Timers<Timer>();
  /** The last watermark windows fired at: which windows have fired, also after a restore. */
  #watermark = Number.NEGATIVE_INFINITY;
  #storedWatermark = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #lastTime = Number.NaN;
  #lastStart = 0;
  #lastSlice: Slice<K, A> | null = null;
  /** Slots changed since the last flush, with their slice's start. */
  #touched: Array<[SliceSlot<K, A>, number]> = [];
  /** The memory budget of the slices' slots. */
  readonly #cache: WindowCache;

  constructor(options: WindowOperatorOptions<T, A, R> & { assigner: HoppingWindows }) {
    this.#o = options;
    this.#size = options.assigner.size;
    this.#slide = options.assigner.slide;
    this.#offset = options.assigner.offset;
    this.#cache = new WindowCache(options.cacheBytes);
  }

  process(
    record: T,
    key: K,
    eventTime: number,
    watermark: number,
    out: (r: WindowResult<K, R>) => void,
    late: (l: LateRecord<T, K>) => void,
  ): void {
    if (eventTime !== this.#lastTime) {
      this.#lastTime = eventTime;
      this.#lastStart = windowStart(eventTime, this.#offset, this.#slide);
    }
    const start = this.#lastStart;
    const lateness = this.#o.allowedLateness;
    // The last window holding the slice is the one starting with it: too late for it, too late for all.
    if (start + this.#size - 1 + lateness <= watermark) {
      late({ record, key, eventTime, watermark });
      return;
    }
    const id = identityOf(key);
    const firstFired = earliestHolding(start, this.#size, this.#slide);
    // Windows that have fired and that this record changes: they are emitted again, after the add.
    const refire = firstFired + this.#size - 1 <= watermark;
    const before = refire ? this.#firedWindows(id, start, watermark) : null;
    const slice = this.#sliceAt(start);
    let slot = this.#slotIn(slice, id);
    if (slot === undefined) {
      slot = { key, id, acc: this.#o.aggregator.init(), seq: this.#seq++, stored: false, touched: false };
      slice.slots.set(id, slot);
      this.#cache.count++;
    }
    slot.acc = this.#o.aggregator.add(slot.acc, record, eventTime);
    if (!slot.touched) {
      slot.touched = true;
      this.#touched.push([slot, start]);
    }
    if (before)
      for (const [ws, hadKey] of before)
        this.#emit(key, this.#merged(id, ws)!, ws, hadKey ? 'update' : 'final', out);
  }

  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void {
    for (let due = this.#timers.next(watermark); due; due = this.#timers.next(watermark)) {
      // Windows fire before the slices they hold are dropped.
      for (const timer of due) if ('fire' in timer) this.#fire(timer.fire, out);
      for (const timer of due) if ('drop' in timer) this.#drop(timer.drop);
    }
    if (watermark > this.#watermark) this.#watermark = watermark;
  }

  /** Final results only: processing time changes nothing. */
  onProcessingTime(): void {}

  flush(): void {
    const store = this.#o.store;
    const touched = this.#touched;
    this.#touched = [];
    for (const [slot, start] of touched) {
      // A slot of a dropped slice was deleted with it.
      if (!slot.touched || this.#slices.get(start)?.slots.get(slot.id) !== slot) continue;
      slot.touched = false;
      const state: StoredSlot<K, A> = { key: slot.key, start, acc: slot.acc, seq: slot.seq };
      const bytes = encodeState(state);
      store.put(sliceKey(start, slot.id), bytes);
      slot.stored = true;
      this.#cache.stored(bytes.length);
    }
    this.#cache.evict(this.#slices.values(), (slot) => !slot.touched && slot.stored);
    if (this.#watermark !== this.#storedWatermark) {
      store.put(WATERMARK, encodeState(this.#watermark));
      this.#storedWatermark = this.#watermark;
    }
  }

  restored(): void {
    for (const _ of this.loading());
  }

  /** Loads the slices from the store a chunk per step (see WindowOperator.loading). */
  *loading(): Generator<void> {
    this.#slices.clear();
    this.#armed.clear();
    this.#timers.clear();
    this.#lastSlice = null;
    this.#lastTime = Number.NaN;
    this.#touched = [];
    this.#cache.count = 0;
    const watermark = this.#o.store.get(WATERMARK);
    this.#watermark = watermark === undefined ? Number.NEGATIVE_INFINITY : decodeState<number>(watermark);
    this.#storedWatermark = this.#watermark;
    let seq = -1;
    yield* chunkedRange(this.#o.store, SLICES_FROM, SLICES_TO, (bytes) => {
      const s = decodeState<StoredSlot<K, A>>(bytes);
      if (s.seq > seq) seq = s.seq;
      const id = identityOf(s.key);
      const slice = this.#sliceAt(s.start);
      slice.unordered = true;
      // Past the budget the slice is made (its timers must run) and the slot stays in the store.
      slice.slots.set(id, { key: s.key, id, acc: s.acc, seq: s.seq, stored: true, touched: false });
      this.#cache.count++;
      if (this.#cache.over(bytes.length)) {
        slice.slots.delete(id);
        slice.evicted = true;
        this.#cache.count--;
      }
    });
    this.#seq = seq + 1;
  }

  /** The slice starting at `start`, opened (with its windows' and its own timers) if need be. */
  #sliceAt(start: number): Slice<K, A> {
    const last = this.#lastSlice;
    if (last !== null && last.start === start) {
      last.used = this.#cache.use();
      return last;
    }
    let slice = this.#slices.get(start);
    if (slice === undefined) {
      slice = { start, slots: new Map(), unordered: false, evicted: false, used: 0 };
      this.#slices.set(start, slice);
      for (let ws = earliestHolding(start, this.#size, this.#slide); ws <= start; ws += this.#slide)
        if (!this.#armed.has(ws) && ws + this.#size - 1 > this.#watermark) {
          this.#armed.add(ws);
          this.#timers.add(ws + this.#size, { fire: ws });
        }
      this.#timers.add(start + this.#size + this.#o.allowedLateness, { drop: start });
    }
    slice.used = this.#cache.use();
    this.#lastSlice = slice;
    return slice;
  }

  /** A key's slot in a slice, read back from the store if the cache budget dropped it; undefined if none. */
  #slotIn(slice: Slice<K, A>, id: KeyId): SliceSlot<K, A> | undefined {
    const slot = slice.slots.get(id);
    if (slot !== undefined || !slice.evicted) return slot;
    const bytes = this.#o.store.get(sliceKey(slice.start, id));
    return bytes === undefined
      ? undefined
      : this.#restoreInto(slice, decodeState<StoredSlot<K, A>>(bytes), id);
  }

  #restoreInto(slice: Slice<K, A>, s: StoredSlot<K, A>, id: KeyId): SliceSlot<K, A> {
    const slot: SliceSlot<K, A> = { key: s.key, id, acc: s.acc, seq: s.seq, stored: true, touched: false };
    slice.slots.set(id, slot);
    // Back in another order than it opened in: sorted before a window fires.
    slice.unordered = true;
    this.#cache.count++;
    return slot;
  }

  /** Every slot of a slice back in memory, before a window holding it fires. */
  #reloadAll(slice: Slice<K, A>): void {
    for (const [, bytes] of this.#o.store.range(...sliceRange(slice.start))) {
      const s = decodeState<StoredSlot<K, A>>(bytes);
      const id = identityOf(s.key);
      if (!slice.slots.has(id)) this.#restoreInto(slice, s, id);
    }
    slice.evicted = false;
  }

  /** Slots in memory. */
  get cachedWindows(): number {
    return this.#cache.count;
  }

  /**
   * The windows holding slice `start` that have fired and are within their lateness, each with
   * whether the key already had a result there (it had one if any of the window's slices holds it).
   */
  #firedWindows(id: KeyId, start: number, watermark: number): Array<[number, boolean]> {
    const fired: Array<[number, boolean]> = [];
    for (let ws = earliestHolding(start, this.#size, this.#slide); ws <= start; ws += this.#slide) {
      const end = ws + this.#size - 1;
      if (end > watermark || end + this.#o.allowedLateness <= watermark) continue;
      let hadKey = false;
      for (let s = ws; s < ws + this.#size && !hadKey; s += this.#slide) {
        const slice = this.#slices.get(s);
        hadKey = slice !== undefined && this.#slotIn(slice, id) !== undefined;
      }
      fired.push([ws, hadKey]);
    }
    return fired;
  }

  /** A key's accumulator over window `ws`: its slices merged (null if none holds the key). */
  #merged(id: KeyId, ws: number): A | null {
    let acc: A | null = null;
    for (let s = ws; s < ws + this.#size; s += this.#slide) {
      const slice = this.#slices.get(s);
      const slot = slice === undefined ? undefined : this.#slotIn(slice, id);
      if (slot === undefined) continue;
      acc = acc === null ? slot.acc : this.#o.aggregator.merge(acc, slot.acc);
    }
    return acc;
  }

  /** Every key's result over window `ws`, keys in the order they first appear in its slices. */
  #fire(ws: number, out: (r: WindowResult<K, R>) => void): void {
    this.#armed.delete(ws);
    const aggregator = this.#o.aggregator;
    const keys = new Map<KeyId, { key: K; acc: A }>();
    for (let s = ws; s < ws + this.#size; s += this.#slide) {
      const slice = this.#slices.get(s);
      if (slice === undefined) continue;
      if (slice.evicted) this.#reloadAll(slice);
      if (slice.unordered) {
        slice.slots = bySeq(slice.slots);
        slice.unordered = false;
      }
      for (const slot of slice.slots.values()) {
        const merged = keys.get(slot.id);
        // The first slice's accumulator as it is: merge leaves its arguments alone.
        if (merged === undefined) keys.set(slot.id, { key: slot.key, acc: slot.acc });
        else merged.acc = aggregator.merge(merged.acc, slot.acc);
      }
    }
    if (keys.size === 0) return;
    const window: Readonly<Window> = Object.freeze({ start: ws, end: ws + this.#size });
    for (const { key, acc } of keys.values())
      out({ key, window, value: aggregator.result(acc), kind: 'final' });
  }

  #emit(key: K, acc: A, ws: number, kind: 'final' | 'update', out: (r: WindowResult<K, R>) => void): void {
    out({ key, window: { start: ws, end: ws + this.#size }, value: this.#o.aggregator.result(acc), kind });
  }

  #drop(start: number): void {
    const slice = this.#slices.get(start);
    if (slice === undefined) return;
    this.#slices.delete(start);
    if (this.#lastSlice === slice) this.#lastSlice = null;
    this.#cache.count -= slice.slots.size;
    for (const slot of slice.slots.values()) if (slot.stored) this.#o.store.delete(sliceKey(start, slot.id));
    // Slots only in the store go from there too.
    if (slice.evicted)
      for (const key of [...this.#o.store.range(...sliceRange(start))].map(([k]) => k))
        this.#o.store.delete(key);
  }
}

/** A slot's key in the store: (1, slice start, key), so slices sort by time. */
function sliceKey(start: number, id: KeyId): Buffer {
  return stateKey([1, start, id]);
}
/** The store keys of a slice's slots: (1, start, *). */
function sliceRange(start: number): [Buffer, Buffer] {
  return [stateKey([1, start]), stateKey([1, start + 1])];
}
const SLICES_FROM = stateKey([1]);
const SLICES_TO = stateKey([2]);
const WATERMARK = stateKey([0, 'watermark']);
