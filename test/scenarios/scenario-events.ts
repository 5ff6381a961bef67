import { count, sum, type Windowed } from '../../src/stream/index.ts';

/** The events most scenarios feed: a key, a value, an event time. */
export interface E {
  k: string;
  v: number;
  ts: number;
}

/** The aggregation most scenarios use. */
export const countAndTotal = () => ({ n: count<E>(), total: sum<E>((e) => e.v) });

/** A window's result as one flat row. */
export function row(w: Windowed<string, { n: number; total: number }>) {
  return {
    key: w.key,
    start: w.window.start,
    end: w.window.end,
    kind: w.kind,
    ...w.value,
    ...(w.replaces ? { replaces: w.replaces } : {}),
  };
}
