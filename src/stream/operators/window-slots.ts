import type { Window } from '../windows/window.ts';

/** What the store keeps of a window: its key, span, accumulator and emission state. */
export interface WindowState<K, A> {
  key: K;
  start: number;
  end: number;
  acc: A;
  fired: boolean;
  /** Opened as the operator's seq-th window: windows due together fire in this order. */
  seq: number;
  /** Changed since its last early result (updates and early emit modes). */
  dirty?: boolean;
  /** Processing time of its last early result. */
  emittedAt?: number;
  /** Emitted windows merged into this session, to be reported as replaced with its next result. */
  replaces?: Window[];
}

/**
 * An open window: its state and what the operator knows about it but does not store, in one object
 * (one object per key and window keeps the per-record path to one lookup and one object).
 */
export interface Slot<K, A> extends WindowState<K, A> {
  /** The key as a Map key; `String(id)` is its JSON text, part of the window's id in the store. */
  id: KeyId;
  /** A tumbling or hopping window's span, shared with its bucket; null for a session, which grows. */
  window: Readonly<Window> | null;
  dropped: boolean;
  /** The store holds it (written by a flush, or read by a restore). */
  stored: boolean;
  /** Changed since the last flush. */
  touched: boolean;
  /** The window's key in the store once made: it is written at several commits and deleted once. */
  storeKey: Buffer | null;
}

/** A new tumbling or hopping window, built in one go (the per-record path opens about one per record). */
export function openSlot<K, A>(
  key: K,
  id: KeyId,
  start: number,
  end: number,
  acc: A,
  seq: number,
  window: Readonly<Window>,
): Slot<K, A> {
  return {
    key,
    start,
    end,
    acc,
    fired: false,
    seq,
    dirty: false,
    emittedAt: undefined,
    replaces: undefined,
    id,
    window,
    dropped: false,
    stored: false,
    touched: true,
    storeKey: null,
  };
}

/** Every field set, in the same order as `openSlot`, so every slot has one shape. */
export function newSlot<K, A>(state: WindowState<K, A>, id: KeyId): Slot<K, A> {
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
    id,
    window: null,
    dropped: false,
    stored: false,
    touched: true,
    storeKey: null,
  };
}

/** What the store keeps of a slot. */
export function stateOf<K, A>(slot: WindowState<K, A>): WindowState<K, A> {
  const state: WindowState<K, A> = {
    key: slot.key,
    start: slot.start,
    end: slot.end,
    acc: slot.acc,
    fired: slot.fired,
    seq: slot.seq,
  };
  if (slot.dirty) state.dirty = true;
  if (slot.emittedAt !== undefined) state.emittedAt = slot.emittedAt;
  if (slot.replaces !== undefined) state.replaces = slot.replaces;
  return state;
}

/** Every key's tumbling or hopping window of one span. */
export interface Bucket<K, A> {
  start: number;
  end: number;
  /** The span as results carry it: one frozen object shared by every key's result. */
  window: Readonly<Window>;
  slots: Map<KeyId, Slot<K, A>>;
  dropped: boolean;
  /** Loaded from the store in key order: its slots are put in the order they opened before it fires. */
  unordered: boolean;
  /** Some of its windows are only in the store (the cache budget dropped them from memory). */
  evicted: boolean;
  /** When it was used last (the operator's use counter): buckets used least recently are evicted first. */
  used: number;
}

/**
 * A key as a Map key: numbers as they are, anything else as its JSON text. The two never collide (a
 * Map tells 1 from "1"), and the per-record path builds no string for the usual numeric key.
 */
export type KeyId = number | string;
export const identityOf = (key: unknown): KeyId => (typeof key === 'number' ? key : JSON.stringify(key));

/**
 * Windows due together fire in the order they opened, whatever order their timers were armed in, so
 * a restored task emits what an uninterrupted one does.
 */
export function ordered<T extends { seq: number }>(items: T[]): T[] {
  return items.length < 2 ? items : items.sort((a, b) => a.seq - b.seq);
}

/** How many stored entries an operator loads before it lets the event loop run (see `loading`). */
export const LOAD_CHUNK = 2000;

/**
 * The entries of a store range, read in chunks of LOAD_CHUNK with a yield between them: each chunk
 * is a fresh scan from just past the last key, so no read transaction stays open across the yields.
 */
export function* chunkedRange(
  store: { range(from?: Buffer, to?: Buffer): IterableIterator<[Buffer, Buffer]> },
  from: Buffer,
  to: Buffer,
  each: (value: Buffer) => void,
): Generator<void> {
  let next = from;
  for (;;) {
    let n = 0;
    let last: Buffer | null = null;
    for (const [key, value] of store.range(next, to)) {
      each(value);
      last = key;
      if (++n === LOAD_CHUNK) break;
    }
    if (n < LOAD_CHUNK || last === null) return;
    // The smallest key after `last`.
    next = Buffer.concat([last, Buffer.alloc(1)]);
    yield;
  }
}

/** Whether a store holds any entry in [from, to), with the scan closed at once. */
export function holdsAny(
  store: { range(from?: Buffer, to?: Buffer): IterableIterator<[Buffer, Buffer]> },
  from: Buffer,
  to: Buffer,
): boolean {
  const scan = store.range(from, to);
  const any = scan.next().done !== true;
  scan.return?.(undefined);
  return any;
}

/** Puts slots that were loaded in key order back in the order they opened. */
export function bySeq<K, S extends { seq: number }>(slots: Map<K, S>): Map<K, S> {
  return new Map([...slots].sort((a, b) => a[1].seq - b[1].seq));
}
