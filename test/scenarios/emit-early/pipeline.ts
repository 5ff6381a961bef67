import { count, pipeline, sum, tumbling } from '../../../src/stream/index.ts';
import type { E } from '../scenario-events.ts';

export default pipeline('emit-early')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(10), { emit: { early: '10s' } })
  .aggregate({ n: count(), total: sum((e) => e.v) })
  .map((w) => ({ start: w.window.start, kind: w.kind, ...w.value }))
  .toTopic('out');
