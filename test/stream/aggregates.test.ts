import { describe, expect, it } from 'vitest';
import {
  aggregator,
  approxCountDistinct,
  avg,
  combine,
  count,
  countDistinct,
  first,
  last,
  max,
  min,
  percentile,
  sum,
  topN,
} from '../../src/stream/index.ts';
import { decodeState, encodeState } from '../../src/stream/state/state-codec.ts';

interface Payment {
  amount: number;
  user: string;
}

const records: Array<[Payment, number]> = [
  [{ amount: 10, user: 'a' }, 3_000],
  [{ amount: 5, user: 'b' }, 1_000],
  [{ amount: 20, user: 'a' }, 2_000],
  [{ amount: 1, user: 'c' }, 4_000],
];

const spec = {
  n: count<Payment>(),
  total: sum<Payment>((p) => p.amount),
  low: min<Payment>((p) => p.amount),
  high: max<Payment>((p) => p.amount),
  mean: avg<Payment>((p) => p.amount),
  earliest: first<Payment, string>((p) => p.user),
  latest: last<Payment, string>((p) => p.user),
  users: countDistinct<Payment>((p) => p.user),
};

describe('aggregations', () => {
  const agg = combine(spec);
  const run = (rs: Array<[Payment, number]>) => rs.reduce((acc, [r, ts]) => agg.add(acc, r, ts), agg.init());

  it('count, sum, min, max, avg, first and last by event time, distinct', () => {
    expect(agg.result(run(records))).toEqual({
      n: 4,
      total: 36,
      low: 1,
      high: 20,
      mean: 9,
      earliest: 'b',
      latest: 'c',
      users: 3,
    });
  });

  it('merges partial accumulators to what one pass over all records gives, in any split', () => {
    for (let cut = 0; cut <= records.length; cut++) {
      const merged = agg.merge(run(records.slice(0, cut)), run(records.slice(cut)));
      expect(agg.result(merged)).toEqual(agg.result(run(records)));
      expect(agg.result(agg.merge(run(records.slice(cut)), run(records.slice(0, cut))))).toEqual(
        agg.result(run(records)),
      );
    }
  });

  it('gives empty results for no records and keeps accumulators storable by the state codec', () => {
    expect(agg.result(agg.init())).toEqual({
      n: 0,
      total: 0,
      low: null,
      high: null,
      mean: null,
      earliest: null,
      latest: null,
      users: 0,
    });
    const acc = run(records);
    expect(agg.result(stored(acc))).toEqual(agg.result(acc));
    expect(
      countDistinct<number>((x) => x).result(
        [1, '1' as never].reduce((a, v) => countDistinct<number>((x) => x).add(a, v as number, 0), {}),
      ),
    ).toBe(2);
  });
});

describe('sketch aggregations', () => {
  const values = Array.from({ length: 10_000 }, (_, i) => i + 1);
  const fold = <A, R>(agg: import('../../src/stream/index.ts').Aggregator<number, A, R>, xs: number[]) =>
    xs.reduce((acc, x) => agg.add(acc, x, 0), agg.init());

  it('percentiles from a DDSketch are within 1% and merge', () => {
    const p95 = percentile<number>((x) => x, 0.95);
    const whole = p95.result(fold(p95, values))!;
    expect(Math.abs(whole - 9_500) / 9_500).toBeLessThan(0.01);
    const merged = p95.result(p95.merge(fold(p95, values.slice(0, 3_000)), fold(p95, values.slice(3_000))))!;
    expect(Math.abs(merged - 9_500) / 9_500).toBeLessThan(0.01);
    expect(p95.result(p95.init())).toBeNull();
    // Through the state store's codec and back, then on.
    const revived = stored(fold(p95, values.slice(0, 5_000)));
    const resumed = values.slice(5_000).reduce((acc, x) => p95.add(acc, x, 0), revived);
    expect(Math.abs(p95.result(resumed)! - 9_500) / 9_500).toBeLessThan(0.01);
  });

  it('approximate distinct counts from HyperLogLog are within 5% and merge', () => {
    const hll = approxCountDistinct<number>((x) => x);
    expect(hll.result(fold(hll, [1, 2, 2, 3, 3, 3]))).toBe(3);
    const whole = hll.result(fold(hll, [...values, ...values]));
    expect(Math.abs(whole - 10_000) / 10_000).toBeLessThan(0.05);
    const merged = hll.merge(fold(hll, values.slice(0, 6_000)), fold(hll, values.slice(4_000)));
    expect(hll.result(merged)).toBe(whole);
    expect(hll.result(stored(merged))).toBe(whole);
  });

  it('topN keeps the highest scores, highest first, across merges', () => {
    const top = topN<number>(3, (x) => x % 97);
    const best = [96, 193, 290];
    expect(top.result(fold(top, values.slice(0, 300)))).toEqual(
      best.map((b) => values.slice(0, 300).find((v) => v === b)!),
    );
    const merged = top.merge(fold(top, values.slice(0, 150)), fold(top, values.slice(150, 300)));
    expect(top.result(merged).map((x) => x % 97)).toEqual([96, 96, 96]);
    expect(() => topN(0, (x: number) => x)).toThrow(RangeError);
  });

  it('takes custom aggregators with init, add, merge and result', () => {
    const spread = aggregator<number, { lo: number; hi: number } | null, number>({
      init: () => null,
      add: (a, x) => (a === null ? { lo: x, hi: x } : { lo: Math.min(a.lo, x), hi: Math.max(a.hi, x) }),
      merge: (a, b) =>
        a === null ? b : b === null ? a : { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) },
      result: (a) => (a === null ? 0 : a.hi - a.lo),
    });
    expect(spread.result(spread.merge(fold(spread, [5, 9]), fold(spread, [1])))).toBe(8);
  });
});

/** An accumulator as a restored task reads it back from its store. */
function stored<A>(acc: A): A {
  return decodeState<A>(encodeState(acc));
}
