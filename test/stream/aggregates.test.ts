import { describe, expect, it } from 'vitest';
import { avg, combine, count, countDistinct, first, last, max, min, sum } from '../../src/stream/index.ts';

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

  it('gives empty results for no records and keeps accumulators JSON-serializable', () => {
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
    expect(agg.result(JSON.parse(JSON.stringify(acc)))).toEqual(agg.result(acc));
    expect(
      countDistinct<number>((x) => x).result(
        [1, '1' as never].reduce((a, v) => countDistinct<number>((x) => x).add(a, v as number, 0), {}),
      ),
    ).toBe(2);
  });
});
