import type { Aggregator } from '../aggregates/aggregator.ts';
import type { StateStore } from '../state/state-store.ts';
import type { WindowAssigner } from '../windows/assigners.ts';
import { maxTimestamp, type Window } from '../windows/window.ts';

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

interface WindowState<K, A> {
  key: K;
  start: number;
  end: number;
  acc: A;
  fired: boolean;
  /** Changed since its last early result (updates and early emit modes). */
  dirty?: boolean;
  /** Processing time of its last early result. */
  emittedAt?: number;
  /** Emitted windows merged into this session, to be reported as replaced with its next result. */
  replaces?: Window[];
}

export interface WindowOperatorOptions<T, A, R> {
  /** The step's name: its state namespace. */
  name: string;
  assigner: WindowAssigner;
  aggregator: Aggregator<T, A, R>;
  /** How long after a window fires late records still update it (ms). */
  allowedLateness: number;
  store: StateStore;
  /** When results come out before a window closes; default only when it closes. */
  emit?: EmitMode;
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
 * touches existing sessions of its key. State lives in the StateStore; firing order comes from timers
 * kept beside it and rebuilt from it after a restore.
 */
export class WindowOperator<T, K, A, R> {
  readonly #o: WindowOperatorOptions<T, A, R>;
  /** Window ends (fire) and ends + lateness (clean-up), each with the state keys due then. */
  readonly #timers = new Map<number, Set<string>>();
  #times: number[] = [];
  /** Session windows of a key, for merging: key → state keys. */
  readonly #sessions = new Map<string, Set<string>>();
  /** Open windows changed since their last early result. */
  readonly #dirty = new Set<string>();

  constructor(options: WindowOperatorOptions<T, A, R>) {
    this.#o = options;
    this.restored();
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
    const keyText = JSON.stringify(key);
    const windows = this.#o.assigner.assign(eventTime).filter((w) => !this.#tooLate(w, watermark));
    if (windows.length === 0) {
      late({ record, key, eventTime, watermark });
      return;
    }
    for (const w of windows) {
      const state =
        this.#o.assigner.kind === 'session'
          ? this.#mergeSession(key, keyText, w, watermark)
          : this.#stateOf(key, keyText, w);
      state.acc = this.#o.aggregator.add(state.acc, record, eventTime);
      if (state.fired) this.#emit(state, 'update', out);
      else if (maxTimestamp(state) <= watermark) {
        // A merged session that was already due: it fires now.
        state.fired = true;
        this.#emit(state, 'final', out);
      } else this.#changed(state, now, out);
      this.#save(state, keyText);
    }
  }

  /** Fires the windows the watermark has passed and drops those past their lateness, in time order. */
  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void {
    while (this.#times.length > 0 && this.#times[0]! - 1 <= watermark) {
      const time = this.#times.shift()!;
      const due = this.#timers.get(time)!;
      this.#timers.delete(time);
      for (const id of [...due].sort()) {
        const state = this.#o.store.get<WindowState<K, A>>(this.#o.name, id);
        if (!state) continue;
        if (!state.fired && maxTimestamp(state) <= watermark) {
          state.fired = true;
          this.#emit(state, 'final', out);
          this.#o.store.put(this.#o.name, id, state);
        }
        if (this.#tooLate(state, watermark)) this.#drop(id, state);
      }
    }
  }

  /** Processing time moved on: early results of changed windows that are due. */
  onProcessingTime(now: number, out: (r: WindowResult<K, R>) => void): void {
    const emit = this.#o.emit;
    if (!emit || emit.mode === 'final') return;
    if (emit.mode === 'early') {
      const last = this.#o.store.get<number>(`${this.#o.name}#early`, 'at') ?? Number.NEGATIVE_INFINITY;
      if (now - last < emit.interval) return;
      // In the store, so a restored task keeps the rhythm of early firings.
      this.#o.store.put(`${this.#o.name}#early`, 'at', now);
    }
    for (const id of [...this.#dirty].sort()) {
      const state = this.#o.store.get<WindowState<K, A>>(this.#o.name, id);
      if (!state?.dirty || state.fired) {
        this.#dirty.delete(id);
        continue;
      }
      if (emit.mode === 'updates' && now - (state.emittedAt ?? Number.NEGATIVE_INFINITY) < emit.interval)
        continue;
      this.#early(state, now, out);
      this.#dirty.delete(id);
      this.#o.store.put(this.#o.name, id, state);
    }
  }

  /** A record changed an open window: the updates mode emits it now if its interval allows. */
  #changed(state: WindowState<K, A>, now: number, out: (r: WindowResult<K, R>) => void): void {
    const emit = this.#o.emit;
    if (!emit || emit.mode === 'final') return;
    if (emit.mode === 'updates' && now - (state.emittedAt ?? Number.NEGATIVE_INFINITY) >= emit.interval)
      this.#early(state, now, out);
    else {
      state.dirty = true;
      this.#dirty.add(idOf(JSON.stringify(state.key), state));
    }
  }

  #early(state: WindowState<K, A>, now: number, out: (r: WindowResult<K, R>) => void): void {
    state.dirty = false;
    state.emittedAt = now;
    this.#emit(state, 'early', out);
  }

  /** Rebuilds timers and session indexes from the store (after a restore). */
  restored(): void {
    this.#timers.clear();
    this.#times = [];
    this.#sessions.clear();
    this.#dirty.clear();
    for (const [id, state] of this.#o.store.entries<WindowState<K, A>>(this.#o.name)) {
      this.#index(id, state, JSON.stringify(state.key));
      if (state.dirty) this.#dirty.add(id);
    }
  }

  #tooLate(w: Window, watermark: number): boolean {
    return maxTimestamp(w) + this.#o.allowedLateness <= watermark;
  }

  #stateOf(key: K, keyText: string, w: Window): WindowState<K, A> {
    return (
      this.#o.store.get<WindowState<K, A>>(this.#o.name, idOf(keyText, w)) ?? {
        key,
        start: w.start,
        end: w.end,
        acc: this.#o.aggregator.init(),
        fired: false,
      }
    );
  }

  /** The session a record's window falls into: every session it touches merged into one. */
  #mergeSession(key: K, keyText: string, w: Window, watermark: number): WindowState<K, A> {
    const merged: WindowState<K, A> = {
      key,
      start: w.start,
      end: w.end,
      acc: this.#o.aggregator.init(),
      fired: false,
    };
    const absorbed: Array<WindowState<K, A>> = [];
    for (const id of [...(this.#sessions.get(keyText) ?? [])]) {
      const s = this.#o.store.get<WindowState<K, A>>(this.#o.name, id)!;
      // Sessions that touch (one ends where the other starts) are one session, as in Flink.
      if (s.start > merged.end || merged.start > s.end) continue;
      merged.start = Math.min(merged.start, s.start);
      merged.end = Math.max(merged.end, s.end);
      merged.acc = this.#o.aggregator.merge(merged.acc, s.acc);
      absorbed.push(s);
      this.#drop(id, s);
    }
    const replaces: Window[] = [];
    let sameWindowFired = false;
    for (const s of absorbed) {
      replaces.push(...(s.replaces ?? []));
      if (!s.fired) continue;
      if (s.start === merged.start && s.end === merged.end) sameWindowFired = true;
      else replaces.push({ start: s.start, end: s.end });
    }
    if (replaces.length > 0) merged.replaces = replaces;
    // A session standing for results already emitted is emitted again as soon as it is due.
    merged.fired = sameWindowFired || (replaces.length > 0 && maxTimestamp(merged) <= watermark);
    return merged;
  }

  #save(state: WindowState<K, A>, keyText: string): void {
    const id = idOf(keyText, state);
    this.#o.store.put(this.#o.name, id, state);
    this.#index(id, state, keyText);
  }

  #index(id: string, state: WindowState<K, A>, keyText: string): void {
    this.#timer(state.end, id);
    if (this.#o.allowedLateness > 0) this.#timer(state.end + this.#o.allowedLateness, id);
    if (this.#o.assigner.kind === 'session') {
      let ids = this.#sessions.get(keyText);
      if (!ids) this.#sessions.set(keyText, (ids = new Set()));
      ids.add(id);
    }
  }

  #timer(time: number, id: string): void {
    let due = this.#timers.get(time);
    if (!due) {
      this.#timers.set(time, (due = new Set()));
      // Binary insertion keeps the firing times sorted.
      let lo = 0;
      let hi = this.#times.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#times[mid]! < time) lo = mid + 1;
        else hi = mid;
      }
      this.#times.splice(lo, 0, time);
    }
    due.add(id);
  }

  #drop(id: string, state: WindowState<K, A>): void {
    this.#o.store.delete(this.#o.name, id);
    const keyText = JSON.stringify(state.key);
    const ids = this.#sessions.get(keyText);
    if (ids) {
      ids.delete(id);
      if (ids.size === 0) this.#sessions.delete(keyText);
    }
  }

  #emit(
    state: WindowState<K, A>,
    kind: WindowResult<K, R>['kind'],
    out: (r: WindowResult<K, R>) => void,
  ): void {
    const result: WindowResult<K, R> = {
      key: state.key,
      window: { start: state.start, end: state.end },
      value: this.#o.aggregator.result(state.acc),
      kind,
    };
    if (state.replaces) {
      result.replaces = state.replaces;
      delete state.replaces;
    }
    out(result);
  }
}

function idOf(keyText: string, w: Window): string {
  return `${keyText}|${w.start}|${w.end}`;
}
