import { count, hopping, pipeline, sum } from '../../../src/stream/index.ts';

interface E {
  k: string;
  v: number;
  ts: number;
}

export default pipeline('hopping-windows')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(hopping(10, 5))
  .aggregate({ n: count(), total: sum((e) => e.v) })
  .map((w) => ({
    key: w.key,
    start: w.window.start,
    end: w.window.end,
    kind: w.kind,
    ...w.value,
    ...(w.replaces ? { replaces: w.replaces } : {}),
  }))
  .toTopic('out');
