import { DDSketch } from '@datadog/sketches-js';
import { murmur2 } from '../../core/index.ts';
import { stateType } from '../state/state-codec.ts';
import type { Aggregator } from './aggregator.ts';

// A DDSketch in a window's state is stored as its protobuf encoding.
stateType(
  1,
  DDSketch,
  (sketch) => sketch.toProto(),
  (bytes: Uint8Array) => DDSketch.fromProto(bytes),
);

/** A quantile (0..1) of a value, from a DDSketch (Datadog's library): within 1% of the true value, mergeable. */
export function percentile<T>(
  of: (record: T) => number,
  quantile: number,
): Aggregator<T, DDSketch, number | null> {
  if (!(quantile >= 0 && quantile <= 1))
    throw new RangeError(`percentile: the quantile must be within 0..1, got ${quantile}`);
  return {
    resultType: 'number',
    init: () => new DDSketch({ relativeAccuracy: 0.01 }),
    add: (acc, r) => {
      acc.accept(of(r));
      return acc;
    },
    merge: (a, b) => {
      const merged = new DDSketch({ relativeAccuracy: 0.01 });
      merged.merge(a);
      merged.merge(b);
      return merged;
    },
    result: (acc) => (acc.count === 0 ? null : acc.getValueAtQuantile(quantile)),
  };
}

const PRECISION = 12;
const REGISTERS = 1 << PRECISION;

/**
 * Approximate count of distinct values: HyperLogLog with 4,096 registers (about 1.6% standard error),
 * hashing with murmur2. Written by hand: the npm HyperLogLog packages are unmaintained, and the
 * algorithm is forty lines; the registers are what merges.
 */
export function approxCountDistinct<T>(
  of: (record: T) => string | number,
): Aggregator<T, Uint8Array, number> {
  return {
    resultType: 'integer',
    init: () => new Uint8Array(REGISTERS),
    add: (registers, r) => {
      const v = of(r);
      const hash = murmur2(Buffer.from(typeof v === 'number' ? `n:${v}` : `s:${v}`)) >>> 0;
      const index = hash >>> (32 - PRECISION);
      const rest = (hash << PRECISION) >>> 0;
      const rank = rest === 0 ? 32 - PRECISION + 1 : Math.clz32(rest) + 1;
      if (rank > registers[index]!) registers[index] = rank;
      return registers;
    },
    merge: (x, y) => {
      const out = new Uint8Array(REGISTERS);
      for (let i = 0; i < REGISTERS; i++) out[i] = Math.max(x[i]!, y[i]!);
      return out;
    },
    result: (registers) => {
      let sum = 0;
      let zeros = 0;
      for (const r of registers) {
        sum += 2 ** -r;
        if (r === 0) zeros++;
      }
      const alpha = 0.7213 / (1 + 1.079 / REGISTERS);
      const estimate = (alpha * REGISTERS * REGISTERS) / sum;
      // Small ranges: linear counting is more exact while registers are still empty.
      if (estimate <= 2.5 * REGISTERS && zeros > 0)
        return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
      return Math.round(estimate);
    },
  };
}

/** The `n` records with the highest score, highest first, as `value` gives them. */
export function topN<T, V = T>(
  n: number,
  score: (record: T) => number,
  value: (record: T) => V = (r) => r as unknown as V,
): Aggregator<T, Array<[number, V]>, V[]> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`topN: n must be a positive integer, got ${n}`);
  const keep = (items: Array<[number, V]>) => items.sort((a, b) => b[0] - a[0]).slice(0, n);
  return {
    resultType: 'json',
    init: () => [],
    add: (acc, r) => {
      const s = score(r);
      if (acc.length < n || s > acc[acc.length - 1]![0]) return keep([...acc, [s, value(r)]]);
      return acc;
    },
    merge: (a, b) => keep([...a, ...b]),
    result: (acc) => acc.map(([, v]) => v),
  };
}

/** A custom aggregator, typed: `aggregator({ init, add, merge, result })`. */
export function aggregator<T, A, R>(definition: Aggregator<T, A, R>): Aggregator<T, A, R> {
  return definition;
}
