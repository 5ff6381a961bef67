import { count, max, pipeline, sum, tumbling } from '../../../src/stream/index.ts';
import type { E } from '../scenario-events.ts';

export default pipeline('two-level-windows')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate({ total: sum((e) => e.v) })
  .keyBy(() => 'all')
  .window(tumbling(20))
  .aggregate({ windows: count(), peak: max((w) => w.value.total) })
  .map((w) => ({ start: w.window.start, ...w.value }))
  .toTopic('out');
