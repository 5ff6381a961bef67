import { decodeState, encodeState, stateKey, stateKeyRange } from '../state/state-codec.ts';
import type { SessionWindows } from '../windows/assigners.ts';
import { maxTimestamp, type Window } from '../windows/window.ts';
import { changedWindow, earlyResults } from './early-results.ts';
import { Timers } from './timers.ts';
import { WindowCache } from './window-cache.ts';
import type { LateRecord, WindowOperatorOptions, WindowResult } from './window-operator.ts';
import { chunkedRange, holdsAny, identityOf, type KeyId, stateOf, type WindowState } from './window-slots.ts';
import type { WindowSteps } from './window-steps.ts';

/** An open session: its state and what the operator knows of it without storing it. */
interface Session<K, A> extends WindowState<K, A> {
  group: SessionGroup<K, A>;
  dropped: boolean;
  /** The time of its timer in the store (null: none yet). */
  timerAt: number | null;
  /** The time of its timer in memory (null: none): earlier than or at its due time, re-armed when it rings early. */
  armedAt: number | null;
}

/** One key's open sessions (rarely more than one or two), as memory holds them and the store keeps them: one entry. */
interface SessionGroup<K, A> {
  id: KeyId;
  sessions: Array<Session<K, A>>;
  /** Changed since the last write to the store. */
  touched: boolean;
  /** The store holds an entry for the key. */
  stored: boolean;
  /** Used since the cache last looked: spared once when it evicts (a second chance, as CLOCK does). */
  used: boolean;
}

/**
 * Keyed session windows with allowed lateness, as Flink's merging WindowOperator: a record's span
 * [t, t + gap) merges every session of its key it touches; a session fires when the watermark
 * passes its end, again for each late record within the allowed lateness, and is dropped after that.
 * Lateness is judged on the merged session (Flink's isWindowLate after mergeWindows).
 *
 * Memory holds the sessions of the keys used recently, within the step's cache budget; the store
 * holds all of them, so a step's memory is bounded whatever the number of keys, and a restart reads
 * back only what fits. In the store a key's sessions are one entry, (2, key), which a record of an
 * evicted key reads back with one get; and every session has a timer entry (1, time, seq), at its
 * end while open and at end + lateness once fired. Sessions in memory have their timers in memory
 * too; the sessions of keys only the store holds (evicted, or not read back since a restart) are
 * found by a scan of the store's timers in time order, up to the watermark (RocksDB timers in Flink,
 * the time-ordered session store in Kafka Streams), so they cost no memory while they wait. Changes
 * reach the store at `flush` (before each transaction).
 */
export class SessionWindowOperator<T, K, A, R> implements WindowSteps<T, K, R> {
  readonly #o: WindowOperatorOptions<T, A, R>;
  readonly #gap: number;
  /** The sessions of recently used keys. */
  readonly #groups = new Map<KeyId, SessionGroup<K, A>>();
  /** Memory holds every key that has sessions: a key not in `groups` has none, and no store read is needed. */
  #complete = true;
  /** Groups changed since the last write. */
  #touched: Array<SessionGroup<K, A>> = [];
  /** Open sessions changed since their last early result. */
  readonly #dirty = new Set<Session<K, A>>();
  /** No timer is due before this time: the watermark scans the store only once it gets there. */
  #nextDue = Number.POSITIVE_INFINITY;
  /**
   * The timers of sessions in memory, as they were armed, by key and seq (not the session itself,
   * which may leave memory meanwhile): an entry a session has moved on from is skipped when it
   * rings. The store's timers are for sessions only the store holds.
   */
  readonly #timers = new Timers<[KeyId, number]>();
  #seq = 0;
  readonly #cache: WindowCache;

  constructor(options: WindowOperatorOptions<T, A, R> & { assigner: SessionWindows }) {
    this.#o = options;
    this.#gap = options.assigner.gap;
    this.#cache = new WindowCache(options.cacheBytes);
  }

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
    const group = this.#group(id);
    const end = eventTime + this.#gap;
    if (mergedEnd(group, eventTime, end) - 1 + this.#o.allowedLateness <= watermark) {
      late({ record, key, eventTime, watermark });
      return;
    }
    const session = this.#merge(key, id, group, eventTime, end, watermark);
    session.acc = this.#o.aggregator.add(session.acc, record, eventTime);
    this.#touch(session.group);
    if (session.fired) this.#emit(session, 'update', out);
    else if (maxTimestamp(session) <= watermark) {
      // A merged session that was already due: it fires now.
      this.#fire(session, watermark, out);
    } else if (this.#o.emit !== undefined && this.#o.emit.mode !== 'final')
      // Tested first: the per-record path of final results allocates nothing for it.
      changedWindow(this.#o.emit, session, now, this.#dirty, (w) => this.#early(w, now, out));
  }

  /**
   * Fires the sessions the watermark has passed and drops those past their lateness, in time order,
   * by seq within a time: those of keys in memory from their timers in memory, those of keys only
   * the store holds (evicted, or not read back since a restart) from the store's timers.
   */
  onWatermark(watermark: number, out: (r: WindowResult<K, R>) => void): void {
    if (this.#nextDue - 1 > watermark) return;
    this.#nextDue = Number.POSITIVE_INFINITY;
    const due = new Set<Session<K, A>>();
    for (;;) {
      const time = this.#timers.peek();
      const ringing = this.#timers.next(watermark);
      if (ringing === undefined) break;
      for (const [id, seq] of ringing) {
        // Skipped: a timer moved since (the session grew or fired), a session that ended, or one that
        // left memory (the store's timers find it).
        const session = this.#groups.get(id)?.sessions.find((s) => s.seq === seq);
        if (session === undefined || session.armedAt !== time) continue;
        session.armedAt = null;
        const at = this.#timerOf(session);
        if (at === time) due.add(session);
        else {
          // It grew (or fired) since it was armed: armed again where its timer is now, which the
          // loop reaches at once if the watermark has passed that too.
          session.armedAt = at;
          this.#timers.add(at, [id, seq]);
        }
      }
    }
    let next = this.#timers.peek();
    if (!this.#complete) {
      const upTo = watermark === Number.POSITIVE_INFINITY ? TIMERS_TO : stateKeyRange([1, watermark + 1])[1];
      for (const [, bytes] of this.#o.store.range(TIMERS_FROM, upTo)) {
        const [time, seq, id] = decodeState<[number, number, KeyId]>(bytes);
        const session = this.#group(id)?.sessions.find((s) => s.seq === seq);
        // Gone or moved since the last write: its entry changes at the next one.
        if (session !== undefined && this.#timerOf(session) === time) due.add(session);
      }
      // The first timer after the due ones: at worst one that has moved on since, which only costs
      // a scan that finds nothing.
      for (const [, bytes] of this.#o.store.range(upTo, TIMERS_TO)) {
        next = Math.min(next, decodeState<[number]>(bytes)[0]);
        break;
      }
    }
    const ordered = [...due].sort((a, b) => this.#timerOf(a) - this.#timerOf(b) || a.seq - b.seq);
    for (const session of ordered) {
      if (session.dropped) continue;
      if (!session.fired) this.#fire(session, watermark, out);
      else if (this.#tooLate(session, watermark)) this.#drop(session);
    }
    this.#nextDue = Math.min(this.#nextDue, next);
  }

  onProcessingTime(now: number, out: (r: WindowResult<K, R>) => void): void {
    earlyResults(this.#o.emit, this.#o.store, this.#dirty, now, (session) => this.#early(session, now, out));
  }

  /** Writes what changed since the last flush to the store; past the cache budget, clean keys leave memory. */
  flush(): void {
    this.#write();
    let excess = this.#cache.excess();
    // A clock sweep in the order keys came into memory: a key used since the last sweep is spared
    // once, so the second round takes it if nothing else is left.
    for (let round = 0; round < 2 && excess > 0; round++)
      for (const [id, group] of this.#groups) {
        if (excess <= 0) break;
        if (group.sessions.some((s) => s.dirty)) continue;
        if (group.used) {
          group.used = false;
          continue;
        }
        this.#groups.delete(id);
        this.#cache.count -= group.sessions.length;
        excess -= group.sessions.length;
        this.#complete = false;
      }
  }

  restored(): void {
    for (const _ of this.loading());
  }

  /**
   * Reads the store back. With final results only, nothing but the next seq: keys come back as
   * their records or timers need them. With early results, a chunk of keys per step: those that fit
   * the cache budget stay in memory, and so do sessions waiting for an early result.
   */
  *loading(): Generator<void> {
    this.#groups.clear();
    this.#timers.clear();
    this.#touched = [];
    this.#dirty.clear();
    this.#cache.count = 0;
    this.#complete = true;
    this.#nextDue = Number.NEGATIVE_INFINITY;
    const stored = this.#o.store.get(SEQ);
    const emit = this.#o.emit?.mode ?? 'final';
    if (stored !== undefined && emit === 'final') {
      // Nothing waits for an early result: keys are read back when their records or timers come.
      this.#seq = decodeState<number>(stored);
      this.#complete = !holdsAny(this.#o.store, GROUPS_FROM, GROUPS_TO);
      return;
    }
    let seq = -1;
    yield* chunkedRange(this.#o.store, GROUPS_FROM, GROUPS_TO, (bytes) => {
      const states = decodeState<Array<WindowState<K, A>>>(bytes);
      for (const s of states) if (s.seq > seq) seq = s.seq;
      if (this.#cache.over(bytes.length / states.length) && !states.some((s) => s.dirty)) {
        this.#complete = false;
        return;
      }
      const group = this.#loaded(identityOf(states[0]!.key), states);
      for (const session of group.sessions) if (session.dirty) this.#dirty.add(session);
    });
    this.#seq = seq + 1;
  }

  /** Sessions in memory. */
  get cachedWindows(): number {
    return this.#cache.count;
  }

  /** A key's sessions: from memory, or read back from the store; undefined for a key with none. */
  #group(id: KeyId): SessionGroup<K, A> | undefined {
    const group = this.#groups.get(id);
    if (group !== undefined) {
      group.used = true;
      return group;
    }
    if (this.#complete) return undefined;
    const bytes = this.#o.store.get(groupKey(id));
    return bytes === undefined ? undefined : this.#loaded(id, decodeState<Array<WindowState<K, A>>>(bytes));
  }

  #loaded(id: KeyId, states: Array<WindowState<K, A>>): SessionGroup<K, A> {
    const group: SessionGroup<K, A> = { id, sessions: [], touched: false, stored: true, used: true };
    for (const state of states) {
      const session = newSession(state, group, this.#timerOf(state));
      group.sessions.push(session);
      session.armedAt = session.timerAt;
      this.#timers.add(session.timerAt!, [id, session.seq]);
    }
    this.#groups.set(id, group);
    this.#cache.count += states.length;
    return group;
  }

  /** The session a record's window falls into: every session of its key it touches merged into one. */
  #merge(
    key: K,
    id: KeyId,
    group: SessionGroup<K, A> | undefined,
    start: number,
    end: number,
    watermark: number,
  ): Session<K, A> {
    // Existing sessions never touch each other, so those touching the merged span are those touching
    // the record's. The common case, a record within or at the edge of one session: it grows in
    // place, and the per-record path allocates nothing to find it.
    let only: Session<K, A> | undefined;
    let count = 0;
    for (const s of group?.sessions ?? NONE)
      if (!(s.start > end || start > s.end)) {
        only = s;
        count++;
      }
    if (count === 1) return this.#extend(only!, start, end, watermark);
    const touching = count === 0 ? NONE : group!.sessions.filter((s) => !(s.start > end || start > s.end));
    let g = group;
    if (g === undefined) {
      g = { id, sessions: [], touched: false, stored: false, used: true };
      this.#groups.set(id, g);
    }
    const merged = newSession<K, A>(
      { key, start, end, acc: this.#o.aggregator.init(), fired: false, seq: this.#seq++ },
      g,
      null,
    );
    const replaces: Window[] = [];
    let sameWindowFired = false;
    for (const s of touching) {
      merged.start = Math.min(merged.start, s.start);
      merged.end = Math.max(merged.end, s.end);
      merged.acc = this.#o.aggregator.merge(merged.acc, s.acc);
      this.#drop(s);
    }
    for (const s of touching) {
      replaces.push(...(s.replaces ?? []));
      // A session with a result out (final, or early) stands for a row that the merged one replaces.
      if (!s.fired && s.emittedAt === undefined) continue;
      if (s.start === merged.start && s.end === merged.end) sameWindowFired ||= s.fired;
      else replaces.push({ start: s.start, end: s.end });
    }
    if (replaces.length > 0) merged.replaces = replaces;
    // A session standing for results already emitted is emitted again as soon as it is due.
    merged.fired = sameWindowFired || (replaces.length > 0 && maxTimestamp(merged) <= watermark);
    g.sessions.push(merged);
    this.#cache.count++;
    this.#armed(merged);
    this.#touch(g);
    return merged;
  }

  /** Sessions that touch (one ends where the other starts) are one session, as in Flink: one grows. */
  #extend(session: Session<K, A>, from: number, to: number, watermark: number): Session<K, A> {
    const start = Math.min(session.start, from);
    const end = Math.max(session.end, to);
    if (start === session.start && end === session.end) return session;
    // Its result so far (final, or early) was for the smaller window: the grown one replaces it.
    if (session.fired || session.emittedAt !== undefined)
      session.replaces = [...(session.replaces ?? []), { start: session.start, end: session.end }];
    session.start = start;
    session.end = end;
    if (session.fired) session.fired = maxTimestamp(session) <= watermark;
    this.#armed(session);
    this.#touch(session.group);
    return session;
  }

  #fire(session: Session<K, A>, watermark: number, out: (r: WindowResult<K, R>) => void): void {
    session.fired = true;
    this.#touch(session.group);
    this.#emit(session, 'final', out);
    if (this.#tooLate(session, watermark)) this.#drop(session);
    else this.#armed(session);
  }

  #early(session: Session<K, A>, now: number, out: (r: WindowResult<K, R>) => void): void {
    session.dirty = false;
    session.emittedAt = now;
    this.#touch(session.group);
    this.#emit(session, 'early', out);
  }

  #tooLate(w: Window, watermark: number): boolean {
    return maxTimestamp(w) + this.#o.allowedLateness <= watermark;
  }

  /** When a session's timer rings: at its end while open, at its end plus the lateness once fired. */
  #timerOf(state: WindowState<K, A>): number {
    return state.fired ? state.end + this.#o.allowedLateness : state.end;
  }

  /** A session's timer may have moved: nothing is due before it. */
  #armed(session: Session<K, A>): void {
    const time = this.#timerOf(session);
    // A session's timer only moves later until it fires: the timer it has rings first and re-arms
    // (as Flink's session windows re-register on merge, but without a timer per record).
    if (session.armedAt === null || time < session.armedAt) {
      session.armedAt = time;
      this.#timers.add(time, [session.group.id, session.seq]);
    }
    if (time < this.#nextDue) this.#nextDue = time;
  }

  #drop(session: Session<K, A>): void {
    session.dropped = true;
    const { sessions } = session.group;
    sessions.splice(sessions.indexOf(session), 1);
    this.#cache.count--;
    if (session.dirty) this.#dirty.delete(session);
    if (session.timerAt !== null) this.#o.store.delete(timerKey(session.timerAt, session.seq));
    this.#touch(session.group);
  }

  #touch(group: SessionGroup<K, A>): void {
    if (group.touched) return;
    group.touched = true;
    this.#touched.push(group);
  }

  /** The changed keys' sessions and timers into the store; keys left without sessions leave memory and the store. */
  #write(): void {
    const store = this.#o.store;
    const touched = this.#touched;
    if (touched.length === 0) return;
    this.#touched = [];
    store.put(SEQ, encodeState(this.#seq));
    for (const group of touched) {
      group.touched = false;
      for (const session of group.sessions) {
        const time = this.#timerOf(session);
        if (session.timerAt === time) continue;
        if (session.timerAt !== null) store.delete(timerKey(session.timerAt, session.seq));
        store.put(timerKey(time, session.seq), encodeState([time, session.seq, group.id]));
        session.timerAt = time;
      }
      if (group.sessions.length > 0) {
        const bytes = encodeState(group.sessions.map(stateOf));
        store.put(groupKey(group.id), bytes);
        this.#cache.stored(bytes.length / group.sessions.length);
        group.stored = true;
        continue;
      }
      if (group.stored) store.delete(groupKey(group.id));
      group.stored = false;
      if (this.#groups.get(group.id) === group) this.#groups.delete(group.id);
    }
  }

  #emit(
    session: Session<K, A>,
    kind: WindowResult<K, R>['kind'],
    out: (r: WindowResult<K, R>) => void,
  ): void {
    const result: WindowResult<K, R> = {
      key: session.key,
      window: { start: session.start, end: session.end },
      value: this.#o.aggregator.result(session.acc),
      kind,
    };
    if (session.replaces) {
      result.replaces = session.replaces;
      session.replaces = undefined;
      this.#touch(session.group);
    }
    out(result);
  }
}

/** Every field set, in one order, so every session has one shape. */
function newSession<K, A>(
  state: WindowState<K, A>,
  group: SessionGroup<K, A>,
  timerAt: number | null,
): Session<K, A> {
  return {
    key: state.key,
    start: state.start,
    end: state.end,
    acc: state.acc,
    fired: state.fired,
    seq: state.seq,
    dirty: state.dirty ?? false,
    emittedAt: state.emittedAt,
    replaces: state.replaces,
    group,
    dropped: false,
    timerAt,
    armedAt: null,
  };
}

/** The end of the session a record's window [start, end) would merge into. */
function mergedEnd(group: SessionGroup<unknown, unknown> | undefined, start: number, end: number): number {
  let merged = end;
  if (group !== undefined)
    for (const s of group.sessions) if (!(s.start > end || start > s.end) && s.end > merged) merged = s.end;
  return merged;
}

/** A timer's key: (1, time, seq), so a scan walks timers in time order and a time's sessions in the order they opened. */
function timerKey(time: number, seq: number): Buffer {
  return stateKey([1, time, seq]);
}
/** A key's sessions: (2, key). */
function groupKey(id: KeyId): Buffer {
  return stateKey([2, id]);
}
const NONE: never[] = [];
/** The next session's seq. */
const SEQ = stateKey([0, 'seq']);
const TIMERS_FROM = stateKey([1]);
const TIMERS_TO = stateKey([2]);
const GROUPS_FROM = stateKey([2]);
const GROUPS_TO = stateKey([3]);
