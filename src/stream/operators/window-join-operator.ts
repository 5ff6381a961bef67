import type { StateStore } from '../state/state-store.ts';
import type { HoppingWindows, TumblingWindows } from '../windows/assigners.ts';
import { maxTimestamp, type Window } from '../windows/window.ts';
import { JoinBuffer, type JoinEntry } from './join-buffer.ts';
import type { Joined, Operator, OperatorContext, OperatorInput } from './operator.ts';
import { Timers } from './timers.ts';
import { identityOf, type KeyId } from './window-slots.ts';

export interface WindowJoinOptions {
  assigner: TumblingWindows | HoppingWindows;
  join: (left: unknown, right: unknown, window: Window) => unknown;
  store: StateStore;
}

/** One window's elements, per key and side. */
interface Pending {
  window: Readonly<Window>;
  keys: Map<KeyId, { key: unknown; sides: [JoinEntry[], JoinEntry[]] }>;
}

/**
 * A window join, as Flink's `join().where().equalTo().window()`: the elements of both sides wait in
 * their windows, and when the watermark passes a window's end every left element of a key is paired
 * with every right element of the same key and window, in the order they came, each pair emitted at
 * the window's last instant. An element whose windows have all fired is late.
 */
export class WindowJoinOperator implements Operator<Joined> {
  readonly #o: WindowJoinOptions;
  readonly #buffer: JoinBuffer;
  /** Open windows by start. */
  readonly #windows = new Map<number, Pending>();
  readonly #firing = new Timers<Pending>();

  constructor(options: WindowJoinOptions) {
    this.#o = options;
    this.#buffer = new JoinBuffer(options.store);
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
        for (const { key, sides } of pending.keys.values()) {
          const [lefts, rights] = sides;
          for (const l of lefts)
            for (const r of rights) ctx.emit({ key, value: join(l.value, r.value, window), eventTime });
          for (const e of lefts) this.#buffer.drop(e);
          for (const e of rights) this.#buffer.drop(e);
        }
        this.#windows.delete(window.start);
      }
  }

  onCheckpoint(): void {
    this.#buffer.checkpoint();
  }

  *loading(): Generator<void> {
    this.#windows.clear();
    this.#firing.clear();
    yield* this.#buffer.loading((entry) => this.#into(entry, identityOf(entry.key)));
    // Entries load in (end, seq) order; within a window and side they must pair in the order they came.
    for (const pending of this.#windows.values())
      for (const { sides } of pending.keys.values())
        for (const list of sides) list.sort((a, b) => a.seq - b.seq);
  }

  #into(entry: JoinEntry, id: KeyId): void {
    let pending = this.#windows.get(entry.windowStart);
    if (pending === undefined) {
      const window = Object.freeze({ start: entry.windowStart, end: entry.windowEnd });
      this.#windows.set(window.start, (pending = { window, keys: new Map() }));
      this.#firing.add(window.end, pending);
    }
    let keyed = pending.keys.get(id);
    if (keyed === undefined) pending.keys.set(id, (keyed = { key: entry.key, sides: [[], []] }));
    keyed.sides[entry.side].push(entry);
  }
}
