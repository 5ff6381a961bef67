import type { Aggregator } from '../aggregates/aggregator.ts';
import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { WindowAssigner } from '../windows/assigners.ts';
import { earliestHolding, maxTimestamp, type Window, windowStart } from '../windows/window.ts';
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
  ordered,
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
   * Memory for this step's tumbling and hopping windows, in bytes (estimated); default unbounded.
   * Past it, windows unchanged since the last flush leave memory (the store holds them) and are
   * read back when a record or a firing needs them (SlicedWindowOperator's slices too). Session
   * windows stay in memory.
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
 * Keyed event-time windows with allowed lateness, as Flink's WindowOperator with its default event-time
 * trigger: a window fires once when the watermark passes its end, fires again for each late record
 * within the allowed lateness, and is dropped after that. Session windows merge when a record's span
 * touches existing sessions of its key.
 *
 * Open windows live in memory and the windows changed since the last `flush` are written to the
 * StateStore then (before each transaction), so the per-record path builds no strings and does no
 * store lookups. In the store a window's key is (end, start, key): windows sort by time. Tumbling and
 * hopping windows are grouped by start: every key's window of one span fires, and is dropped,
 * together. Session windows are grouped by key, as merging needs. Timers are rebuilt from the store
 * when the operator starts.
 */
export class WindowOperator<T, K, A, R> implements WindowSteps<T, K, R> {
  readonly #o: WindowOperatorOptions<T, A, R>;
  readonly #session: boolean;
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
  /** Session windows: key → its open sessions (rarely more than one or two). */
  readonly #sessions = new Map<KeyId, Array<Slot<K, A>>>();
  /** Firing (window end) and clean-up (end + lateness) times, with what is due then. */
  readonly #timers = new Timers<Slot<K, A> | Bucket<K, A>>();
  /** Open windows changed since their last early result. */
  readonly #dirty = new Set<Slot<K, A>>();
  /** Windows changed since the last flush. */
  #touched: Array<Slot<K, A>> = [];
  /** Windows are being loaded from the store (see `loading`). */
  #loading = false;
  /** The memory budget of tumbling and hopping windows. */
  readonly #cache: WindowCache;

  constructor(options: WindowOperatorOptions<T, A, R>) {
    this.#o = options;
    this.#session = options.assigner.kind === 'session';
    const a = options.assigner;
    this.#slide = a.kind === 'hopping' ? a.slide : a.kind === 'tumbling' ? a.size : 1;
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
    if (assigner.kind === 'session') {
      const end = eventTime + assigner.gap;
      // Late or not is judged on the session the record merges into (Flink's isWindowLate after
      // mergeWindows): a record inside an open session belongs to it however old it is.
      if (this.#mergedEnd(id, eventTime, end) - 1 + this.#o.allowedLateness > watermark) {
        accepted++;
        this.#add1(
          this.#mergeSession(key, id, eventTime, end, watermark),
          record,
          eventTime,
          watermark,
          now,
          out,
        );
      }
    } else {
      // Tumbling and hopping windows, computed here rather than allocated per record.
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
    }
    if (accepted === 0) late({ record, key, eventTime, watermark });
  }

  /** Fires the windows the watermark has passed and drops those past their lateness, in time order. */
  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void {
    for (let due = this.#timers.next(watermark); due; due = this.#timers.next(watermark)) {
      for (const item of this.#session ? ordered(due as Array<Slot<K, A>>) : due) {
        if (item.dropped) continue;
        if ('slots' in item) {
          if (item.evicted) this.#reloadAll(item);
          // In the order they opened: a Map keeps it, and a loaded bucket is sorted once (see `loading`).
          if (item.unordered) {
            item.slots = bySeq(item.slots);
            item.unordered = false;
          }
          for (const slot of item.slots.values()) this.#fire(slot, watermark, out);
          if (this.#tooLate(item, watermark)) this.#dropBucket(item);
        } else {
          // A session armed at an end it has since outgrown: armed again at its end now.
          if (maxTimestamp(item) > watermark) this.#timers.add(item.end, item);
          else {
            this.#fire(item, watermark, out);
            if (this.#tooLate(item, watermark)) this.#dropSession(item);
            else this.#timers.add(item.end + this.#o.allowedLateness, item);
          }
        }
      }
    }
  }

  /** Processing time moved on: early results of changed windows that are due. */
  onProcessingTime(now: number, out: (r: WindowResult<K, R>) => void): void {
    const emit = this.#o.emit;
    if (!emit || emit.mode === 'final') return;
    if (emit.mode === 'early') {
      const stored = this.#o.store.get(EARLY_AT);
      const last = stored === undefined ? Number.NEGATIVE_INFINITY : decodeState<number>(stored);
      if (now - last < emit.interval) return;
      // In the store, so a restored task keeps the rhythm of early firings.
      this.#o.store.put(EARLY_AT, encodeState(now));
    }
    for (const slot of ordered([...this.#dirty])) {
      if (!slot.dirty || slot.fired || slot.dropped) {
        this.#dirty.delete(slot);
        continue;
      }
      if (emit.mode === 'updates' && now - (slot.emittedAt ?? Number.NEGATIVE_INFINITY) < emit.interval)
        continue;
      this.#early(slot, now, out);
      this.#dirty.delete(slot);
    }
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
   * order they opened before it fires, and each key's sessions are sorted here, so a restarted task
   * emits what an uninterrupted one does.
   */
  *loading(): Generator<void> {
    this.#buckets.clear();
    this.#near.fill(undefined);
    this.#lastSlot = null;
    this.#sessions.clear();
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
        else if (!this.#session && this.#cache.over(bytes.length)) {
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
    for (const open of this.#sessions.values()) if (open.length > 1) open.sort((a, b) => a.seq - b.seq);
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
      // A merged session that was already due: it fires now.
      slot.fired = true;
      this.#emit(slot, 'final', out);
    } else this.#changed(slot, now, out);
  }

  #fire(slot: Slot<K, A>, watermark: number, out: (r: WindowResult<K, R>) => void): void {
    if (slot.fired || maxTimestamp(slot) > watermark) return;
    slot.fired = true;
    this.#touch(slot);
    this.#emit(slot, 'final', out);
  }

  /** A record changed an open window: the updates mode emits it now if its interval allows. */
  #changed(slot: Slot<K, A>, now: number, out: (r: WindowResult<K, R>) => void): void {
    const emit = this.#o.emit;
    if (!emit || emit.mode === 'final') return;
    if (emit.mode === 'updates' && now - (slot.emittedAt ?? Number.NEGATIVE_INFINITY) >= emit.interval)
      this.#early(slot, now, out);
    else {
      slot.dirty = true;
      this.#dirty.add(slot);
    }
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

  /** The end of the session a record's window [start, end) would merge into. */
  #mergedEnd(id: KeyId, start: number, end: number): number {
    let merged = end;
    for (const slot of this.#sessions.get(id) ?? [])
      if (!(slot.start > end || start > slot.end) && slot.end > merged) merged = slot.end;
    return merged;
  }

  /** The session a record's window falls into: every session it touches merged into one. */
  #mergeSession(key: K, id: KeyId, start: number, end: number, watermark: number): Slot<K, A> {
    // Existing sessions never touch each other, so those touching the merged span are those touching
    // the record's.
    const open = this.#sessions.get(id);
    let touching: Array<Slot<K, A>> = [];
    if (open) {
      // The common case, a record within or at the edge of one session: that session grows in place.
      let only: Slot<K, A> | undefined;
      let count = 0;
      for (let i = 0; i < open.length; i++) {
        const slot = open[i]!;
        if (!(slot.start > end || start > slot.end)) {
          only = slot;
          count++;
        }
      }
      if (count === 1) return this.#extend(only!, start, end, watermark);
      if (count > 1) touching = open.filter((s) => !(s.start > end || start > s.end));
    }
    const merged: WindowState<K, A> = {
      key,
      start,
      end,
      acc: this.#o.aggregator.init(),
      fired: false,
      seq: this.#seq++,
    };
    for (const slot of touching) {
      merged.start = Math.min(merged.start, slot.start);
      merged.end = Math.max(merged.end, slot.end);
      merged.acc = this.#o.aggregator.merge(merged.acc, slot.acc);
      this.#dropSession(slot);
    }
    const replaces: Window[] = [];
    let sameWindowFired = false;
    for (const s of touching) {
      replaces.push(...(s.replaces ?? []));
      if (!s.fired) continue;
      if (s.start === merged.start && s.end === merged.end) sameWindowFired = true;
      else replaces.push({ start: s.start, end: s.end });
    }
    if (replaces.length > 0) merged.replaces = replaces;
    // A session standing for results already emitted is emitted again as soon as it is due.
    merged.fired = sameWindowFired || (replaces.length > 0 && maxTimestamp(merged) <= watermark);
    return this.#add(merged, id);
  }

  /** Sessions that touch (one ends where the other starts) are one session, as in Flink: one grows. */
  #extend(slot: Slot<K, A>, from: number, to: number, watermark: number): Slot<K, A> {
    const start = Math.min(slot.start, from);
    const end = Math.max(slot.end, to);
    if (start === slot.start && end === slot.end) return slot;
    if (slot.stored) {
      // Its key holds its end: the grown window is stored under a new one.
      this.#o.store.delete(windowKey(slot));
      slot.stored = false;
    }
    // Its result so far was emitted for the smaller window: the grown one replaces it.
    if (slot.fired) slot.replaces = [...(slot.replaces ?? []), { start: slot.start, end: slot.end }];
    slot.start = start;
    if (end !== slot.end) {
      // An open session's timer is still ahead, at its old end, and re-arms itself when it rings;
      // a fired session's is spent, so it needs one at the new end.
      if (slot.fired) this.#timers.add(end, slot);
      slot.end = end;
    }
    if (slot.fired) slot.fired = maxTimestamp(slot) <= watermark;
    this.#touch(slot);
    return slot;
  }

  /** A window now open: in memory and on the timers; the store gets it at the next flush. */
  #add(state: WindowState<K, A>, id: KeyId): Slot<K, A> {
    const slot = newSlot(state, id);
    this.#touched.push(slot);
    if (this.#session) {
      const open = this.#sessions.get(id);
      if (open) open.push(slot);
      else this.#sessions.set(id, [slot]);
      // Clean-up after the allowed lateness is armed when the session fires.
      this.#timers.add(state.end, slot);
      return slot;
    }
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

  #dropSession(slot: Slot<K, A>): void {
    const open = this.#sessions.get(slot.id);
    const at = open ? open.indexOf(slot) : -1;
    if (at >= 0) {
      open!.splice(at, 1);
      if (open!.length === 0) this.#sessions.delete(slot.id);
    }
    this.#forget(slot);
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
  return stateKey([1, slot.end, slot.start, slot.id]);
}
/** The store keys of a bucket's windows: (1, end, start, *). */
function bucketRange(bucket: { start: number; end: number }): [Buffer, Buffer] {
  return [stateKey([1, bucket.end, bucket.start]), stateKey([1, bucket.end, bucket.start + 1])];
}
const WINDOWS_FROM = stateKey([1]);
const WINDOWS_TO = stateKey([2]);
/** When the early emit mode last fired (processing time). */
const EARLY_AT = stateKey([0, 'early-at']);
