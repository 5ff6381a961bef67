import { count, pipeline, sum, tumbling } from '../../../src/stream/index.ts';

interface E {
  k: string;
  v: number;
  ts: number;
}

export default pipeline('filter-flatmap')
  .source<E>('in', { eventTime: (e) => e.ts })
  .filter((e) => e.v > 0)
  .flatMap((e) => [e, { ...e, k: `${e.k}-copy` }])
  .keyBy((e) => e.k)
  .window(tumbling(10))
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
