/**
 * An aggregation over the records of one key and window: `init` an accumulator, `add` records,
 * `merge` two accumulators (what session windows need when a record bridges two sessions, and what
 * hopping windows are made of: the merge of their slices), and read the `result`. `merge` must
 * return its answer without changing `a` or `b` (it may return one of them as it is). Accumulators
 * are what the state store's codec (MessagePack) writes: plain objects, arrays, numbers, strings,
 * booleans, null, typed arrays, Maps and Sets; a class instance only once registered with `stateType`.
 */
export interface Aggregator<T, A, R> {
  /** What `result` returns, for a view's column type; absent: found from the first results. */
  readonly resultType?: ResultType;
  init(): A;
  add(acc: A, record: T, eventTime: number): A;
  merge(a: A, b: A): A;
  result(acc: A): R;
}

/** The kinds of result a view column can hold (SQL: bigint, double, text, boolean, json). */
export type ResultType = 'integer' | 'number' | 'string' | 'boolean' | 'json';

/** Named aggregators, as `aggregate({ count: count(), revenue: sum((p) => p.amount) })` takes them. */
export type AggregatorSpec<T> = Record<string, Aggregator<T, unknown, unknown>>;

/** The row an AggregatorSpec produces: each name with its aggregator's result type. */
export type AggregateResult<S> = {
  [K in keyof S]: S[K] extends { result(acc: never): infer R } ? R : never;
};

/** Several named aggregators as one, with one accumulator object (or the only one's own accumulator). */
export function combine<T, S extends AggregatorSpec<T>>(spec: S): Aggregator<T, unknown, AggregateResult<S>> {
  const names = Object.keys(spec);
  const parts = names.map((n) => spec[n]!);
  if (names.length === 1) {
    // One aggregator: its accumulator as it is, with no object around it to allocate and follow.
    const [name] = names as [string];
    const [part] = parts as [Aggregator<T, unknown, unknown>];
    const single: Aggregator<T, unknown, AggregateResult<S>> = {
      init: () => part.init(),
      add: (acc, record, ts) => part.add(acc, record, ts),
      merge: (a, b) => part.merge(a, b),
      result: (acc) => {
        // Not `{ [name]: … }`: a computed key in a literal takes V8's slow path.
        const row: Record<string, unknown> = {};
        row[name] = part.result(acc);
        return row as AggregateResult<S>;
      },
    };
    return single;
  }
  // Plain loops that add the names in one order: every accumulator gets the same object shape.
  const several: Aggregator<T, Record<string, unknown>, AggregateResult<S>> = {
    init: () => {
      const acc: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) acc[names[i]!] = parts[i]!.init();
      return acc;
    },
    add: (acc, record, ts) => {
      for (let i = 0; i < names.length; i++) {
        const n = names[i]!;
        acc[n] = parts[i]!.add(acc[n], record, ts);
      }
      return acc;
    },
    merge: (a, b) => {
      const acc: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) acc[names[i]!] = parts[i]!.merge(a[names[i]!], b[names[i]!]);
      return acc;
    },
    result: (acc) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) row[names[i]!] = parts[i]!.result(acc[names[i]!]);
      return row as AggregateResult<S>;
    },
  };
  return several as Aggregator<T, unknown, AggregateResult<S>>;
}
