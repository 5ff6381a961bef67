import { decodeState, encodeState, stateKey, stateKeyRange } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Joined, Operator, OperatorContext, OperatorInput } from './operator.ts';
import { WindowCache } from './window-cache.ts';
import { holdsAny, identityOf, type KeyId } from './window-slots.ts';

export interface IntervalJoinOptions {
  /** A right element at r joins a left element at l when l + lower ≤ r ≤ l + upper (ms; ±Infinity: unbounded). */
  lower: number;
  upper: number;
  join: (left: unknown, right: unknown) => unknown;
  store: StateStore;
  /** Memory for waiting elements (estimated bytes); default unbounded. Past it, keys not used lately are read back from the store. */
  cacheBytes?: number;
}

/** An element waiting for partners. */
interface Waiting {
  side: 0 | 1;
  id: KeyId;
  eventTime: number;
  value: unknown;
  /** The join's seq-th element: partners come out in this order within a time, also after a restore. */
  seq: number;
  /** When no partner can come any more (the watermark it waits for); Infinity: never. */
  until: number;
}

/** One side's waiting elements of one key, in (time, seq) order: memory holds a key's list whole or not at all. */
interface WaitingList {
  entries: Waiting[];
  /** Used since the cache last looked (CLOCK's second chance). */
  used: boolean;
}

/**
 * A stream-stream interval join, as Flink's IntervalJoinOperator: each side's elements wait, per
 * key, for as long as an element of the other side could still match them, and every match is
 * emitted as soon as both halves are there, at the later of the two event times.
 *
 * An element waits until the watermark says no partner can come any more: a left one at l until the
 * watermark reaches l + upper, a right one at r until it reaches r − lower. An element at or behind
 * the watermark would have missed partners already dropped, so it is late (never, on a side whose
 * partners are never dropped: an unbounded bound). With both bounds unbounded this is a regular
 * join, which keeps everything it saw.
 *
 * The store holds every waiting element, (2, side, key, time, seq), and its expiry, (1, time, seq),
 * as Flink keeps both sides in keyed MapState with event-time timers; memory holds the lists of the
 * keys used recently, within the cache budget, and reads a key's list back with one range scan.
 * Expiry is a scan of the store's timers once the watermark reaches the earliest. So the join's
 * memory is bounded whatever it holds, and a restart reads nothing until a key comes.
 */
export class IntervalJoinOperator implements Operator<Joined> {
  readonly #o: IntervalJoinOptions;
  /** Per side, the waiting lists of recently used keys. */
  readonly #waiting: [Map<KeyId, WaitingList>, Map<KeyId, WaitingList>] = [new Map(), new Map()];
  /** Memory holds every list: a key not in `waiting` has no elements there, and no store read is needed. */
  #complete = true;
  /** Elements not yet in the store. */
  #unwritten: Waiting[] = [];
  /** No element expires before this time. */
  #nextDue = Number.POSITIVE_INFINITY;
  #seq = 0;
  readonly #cache: WindowCache;

  constructor(options: IntervalJoinOptions) {
    this.#o = options;
    this.#cache = new WindowCache(options.cacheBytes);
  }

  process(input: OperatorInput, ctx: OperatorContext<Joined>): void {
    const { side, key, eventTime: t, value } = input;
    const { lower, upper, join } = this.#o;
    // Partners of the other side that are dropped once the watermark passes them: none if unbounded.
    const partnersDropped =
      side === 0 ? lower !== Number.NEGATIVE_INFINITY : upper !== Number.POSITIVE_INFINITY;
    if (partnersDropped && t <= ctx.watermark) {
      ctx.late(input);
      return;
    }
    const id = identityOf(key);
    // The other side's times that match: [t + lower, t + upper] for a left element, [t − upper, t − lower] for a right one.
    const from = side === 0 ? t + lower : t - upper;
    const to = side === 0 ? t + upper : t - lower;
    const others = this.#list((1 - side) as 0 | 1, id);
    if (others !== undefined)
      for (let i = firstAtOrAfter(others.entries, from); i < others.entries.length; i++) {
        const other = others.entries[i]!;
        if (other.eventTime > to) break;
        const out = side === 0 ? join(value, other.value) : join(other.value, value);
        ctx.emit({ key, value: out, eventTime: Math.max(t, other.eventTime) });
      }
    const until = this.#untilOf(side, t);
    if (until <= ctx.watermark) return;
    const entry: Waiting = { side, id, eventTime: t, value, seq: this.#seq++, until };
    let own = this.#list(side, id);
    if (own === undefined) this.#waiting[side].set(id, (own = { entries: [], used: true }));
    insert(own.entries, entry);
    this.#cache.count++;
    this.#unwritten.push(entry);
    if (until + 1 < this.#nextDue) this.#nextDue = until + 1;
  }

  onWatermark(watermark: number): void {
    if (this.#nextDue - 1 > watermark) return;
    this.#write();
    const store = this.#o.store;
    let next = Number.POSITIVE_INFINITY;
    for (const [timer, bytes] of store.range(TIMERS_FROM, TIMERS_TO)) {
      const [time, seq, side, id, eventTime] = decodeState<[number, number, 0 | 1, KeyId, number]>(bytes);
      if (time - 1 > watermark) {
        next = time;
        break;
      }
      store.delete(timer);
      store.delete(elementKey(side, id, eventTime, seq));
      const list = this.#waiting[side].get(id);
      if (list === undefined) continue;
      const at = list.entries.findIndex((e) => e.seq === seq);
      if (at < 0) continue;
      list.entries.splice(at, 1);
      this.#cache.count--;
      if (list.entries.length === 0) this.#waiting[side].delete(id);
    }
    this.#nextDue = next;
  }

  /** The new elements into the store; past the cache budget, lists of keys not used lately leave memory. */
  onCheckpoint(): void {
    this.#write();
    let excess = this.#cache.excess();
    for (let round = 0; round < 2 && excess > 0; round++)
      for (const map of this.#waiting)
        for (const [id, list] of map) {
          if (excess <= 0) return;
          if (list.used) {
            list.used = false;
            continue;
          }
          map.delete(id);
          this.#cache.count -= list.entries.length;
          excess -= list.entries.length;
          this.#complete = false;
        }
  }

  /** Nothing is read until a key needs it: only whether the store holds elements at all, and the next seq. */
  // biome-ignore lint/correctness/useYield: it has no chunks to let the event loop run between.
  *loading(): Generator<void> {
    for (const map of this.#waiting) map.clear();
    this.#unwritten = [];
    this.#cache.count = 0;
    const stored = this.#o.store.get(SEQ);
    this.#seq = stored === undefined ? 0 : decodeState<number>(stored);
    this.#complete = !holdsAny(this.#o.store, ELEMENTS_FROM, ELEMENTS_TO);
    this.#nextDue = Number.NEGATIVE_INFINITY;
  }

  /** Elements in memory. */
  get cachedElements(): number {
    return this.#cache.count;
  }

  /** A side's elements of a key: from memory, or read back from the store; undefined if it has none. */
  #list(side: 0 | 1, id: KeyId): WaitingList | undefined {
    const list = this.#waiting[side].get(id);
    if (list !== undefined) {
      list.used = true;
      return list;
    }
    if (this.#complete) return undefined;
    const entries: Waiting[] = [];
    for (const [, bytes] of this.#o.store.range(...stateKeyRange([2, side, id]))) {
      const [eventTime, seq, value] = decodeState<[number, number, unknown]>(bytes);
      entries.push({ side, id, eventTime, value, seq, until: this.#untilOf(side, eventTime) });
    }
    if (entries.length === 0) return undefined;
    const loaded = { entries, used: true };
    this.#waiting[side].set(id, loaded);
    this.#cache.count += entries.length;
    return loaded;
  }

  /** The watermark after which no partner of an element at `t` can come (its timer rings at that + 1). */
  #untilOf(side: 0 | 1, t: number): number {
    return side === 0 ? t + this.#o.upper : t - this.#o.lower;
  }

  /** Each new element and its expiry as pending writes of the store, and the next seq. */
  #write(): void {
    if (this.#unwritten.length === 0) return;
    const store = this.#o.store;
    for (const entry of this.#unwritten) {
      const { side, id } = entry;
      const bytes = encodeState([entry.eventTime, entry.seq, entry.value]);
      store.put(elementKey(side, id, entry.eventTime, entry.seq), bytes);
      this.#cache.stored(bytes.length);
      if (Number.isFinite(entry.until))
        store.put(
          stateKey([1, entry.until + 1, entry.seq]),
          encodeState([entry.until + 1, entry.seq, side, id, entry.eventTime]),
        );
    }
    this.#unwritten = [];
    store.put(SEQ, encodeState(this.#seq));
  }
}

/** Into a (time, seq)-ordered list: elements come roughly in time order, so nearly always at the end. */
function insert(list: Waiting[], entry: Waiting): void {
  let at = list.length;
  while (at > 0 && list[at - 1]!.eventTime > entry.eventTime) at--;
  list.splice(at, 0, entry);
}

/** The index of the first entry at or after `time` in a time-ordered list. */
function firstAtOrAfter(list: Waiting[], time: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.eventTime < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function elementKey(side: 0 | 1, id: KeyId, eventTime: number, seq: number): Buffer {
  return stateKey([2, side, id, eventTime, seq]);
}
const SEQ = stateKey([0, 'seq']);
const TIMERS_FROM = stateKey([1]);
const TIMERS_TO = stateKey([2]);
const ELEMENTS_FROM = stateKey([2]);
const ELEMENTS_TO = stateKey([3]);
