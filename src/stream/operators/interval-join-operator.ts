import type { StateStore } from '../state/state-store.ts';
import { JoinBuffer, type JoinEntry } from './join-buffer.ts';
import type { Joined, Operator, OperatorContext, OperatorInput } from './operator.ts';
import { Timers } from './timers.ts';
import { identityOf, type KeyId } from './window-slots.ts';

export interface IntervalJoinOptions {
  /** A right element at r joins a left element at l when l + lower ≤ r ≤ l + upper (ms; ±Infinity: unbounded). */
  lower: number;
  upper: number;
  join: (left: unknown, right: unknown) => unknown;
  store: StateStore;
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
 */
export class IntervalJoinOperator implements Operator<Joined> {
  readonly #o: IntervalJoinOptions;
  readonly #buffer: JoinBuffer;
  /** Per side, per key, the elements waiting, in event-time order. */
  readonly #waiting: [Map<KeyId, JoinEntry[]>, Map<KeyId, JoinEntry[]>] = [new Map(), new Map()];
  readonly #expiry = new Timers<JoinEntry>();

  constructor(options: IntervalJoinOptions) {
    this.#o = options;
    this.#buffer = new JoinBuffer(options.store);
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
    const others = this.#waiting[1 - side]!.get(id);
    if (others !== undefined)
      for (let i = firstAtOrAfter(others, from); i < others.length && others[i]!.eventTime <= to; i++) {
        const other = others[i]!;
        const out = side === 0 ? join(value, other.value) : join(other.value, value);
        ctx.emit({ key, value: out, eventTime: Math.max(t, other.eventTime) });
      }
    const until = this.#waitsUntil(side, t);
    if (until <= ctx.watermark) return;
    this.#wait(this.#buffer.add(side, key, t, value), id, until);
  }

  onWatermark(watermark: number): void {
    for (let due = this.#expiry.next(watermark); due; due = this.#expiry.next(watermark))
      for (const entry of due) {
        const map = this.#waiting[entry.side];
        const id = identityOf(entry.key);
        const list = map.get(id);
        if (list === undefined) continue;
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        if (list.length === 0) map.delete(id);
        this.#buffer.drop(entry);
      }
  }

  onCheckpoint(): void {
    this.#buffer.checkpoint();
  }

  *loading(): Generator<void> {
    for (const map of this.#waiting) map.clear();
    this.#expiry.clear();
    yield* this.#buffer.loading((entry) =>
      this.#wait(entry, identityOf(entry.key), this.#waitsUntil(entry.side, entry.eventTime)),
    );
  }

  /** The watermark after which no partner of an element at `t` can come. */
  #waitsUntil(side: 0 | 1, t: number): number {
    return side === 0 ? t + this.#o.upper : t - this.#o.lower;
  }

  #wait(entry: JoinEntry, id: KeyId, until: number): void {
    const map = this.#waiting[entry.side];
    let list = map.get(id);
    if (list === undefined) map.set(id, (list = []));
    // Elements come roughly in time order: the insertion point is nearly always the end.
    let at = list.length;
    while (at > 0 && isAfter(list[at - 1]!, entry)) at--;
    list.splice(at, 0, entry);
    // Timers fire at time − 1 ≤ watermark.
    if (Number.isFinite(until)) this.#expiry.add(until + 1, entry);
  }
}

function isAfter(a: JoinEntry, b: JoinEntry): boolean {
  return a.eventTime > b.eventTime || (a.eventTime === b.eventTime && a.seq > b.seq);
}

/** The index of the first entry at or after `time` in a time-ordered list. */
function firstAtOrAfter(list: JoinEntry[], time: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.eventTime < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
