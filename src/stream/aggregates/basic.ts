import type { Aggregator } from './aggregator.ts';

type Num<T> = (record: T) => number;
type Pick<T, V> = (record: T) => V;

export function count<T = unknown>(): Aggregator<T, number, number> {
  return {
    resultType: 'integer',
    init: () => 0,
    add: (n) => n + 1,
    merge: (a, b) => a + b,
    result: (n) => n,
  };
}

export function sum<T>(of: Num<T>): Aggregator<T, number, number> {
  return {
    resultType: 'number',
    init: () => 0,
    add: (s, r) => s + of(r),
    merge: (a, b) => a + b,
    result: (s) => s,
  };
}

export function min<T>(of: Num<T>): Aggregator<T, number | null, number | null> {
  return {
    resultType: 'number',
    init: () => null,
    add: (m, r) => (m === null ? of(r) : Math.min(m, of(r))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
    result: (m) => m,
  };
}

export function max<T>(of: Num<T>): Aggregator<T, number | null, number | null> {
  return {
    resultType: 'number',
    init: () => null,
    add: (m, r) => (m === null ? of(r) : Math.max(m, of(r))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
    result: (m) => m,
  };
}

export function avg<T>(of: Num<T>): Aggregator<T, { sum: number; count: number }, number | null> {
  return {
    resultType: 'number',
    init: () => ({ sum: 0, count: 0 }),
    add: (a, r) => ({ sum: a.sum + of(r), count: a.count + 1 }),
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
    result: (a) => (a.count === 0 ? null : a.sum / a.count),
  };
}

interface Stamped<V> {
  ts: number;
  value: V;
}

/** The value of the record with the earliest event time (the first seen on ties), whatever the arrival order. */
export function first<T, V>(of: Pick<T, V>): Aggregator<T, Stamped<V> | null, V | null> {
  return {
    init: () => null,
    add: (a, r, ts) => (a === null || ts < a.ts ? { ts, value: of(r) } : a),
    merge: (a, b) => (a === null ? b : b === null ? a : b.ts < a.ts ? b : a),
    result: (a) => (a === null ? null : a.value),
  };
}

/** The value of the record with the latest event time (the last seen on ties), whatever the arrival order. */
export function last<T, V>(of: Pick<T, V>): Aggregator<T, Stamped<V> | null, V | null> {
  return {
    init: () => null,
    add: (a, r, ts) => (a === null || ts >= a.ts ? { ts, value: of(r) } : a),
    merge: (a, b) => (a === null ? b : b === null ? a : b.ts >= a.ts ? b : a),
    result: (a) => (a === null ? null : a.value),
  };
}

/** Distinct values, exactly: the accumulator keeps each one (as `s:text` or `n:number`, so 1 and '1' differ). */
export function countDistinct<T>(of: Pick<T, string | number>): Aggregator<T, Record<string, 1>, number> {
  const key = (v: string | number) => (typeof v === 'number' ? `n:${v}` : `s:${v}`);
  return {
    resultType: 'integer',
    init: () => ({}),
    add: (a, r) => {
      a[key(of(r))] = 1;
      return a;
    },
    merge: (a, b) => ({ ...a, ...b }),
    result: (a) => Object.keys(a).length,
  };
}
