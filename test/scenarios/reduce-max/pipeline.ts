import { pipeline, tumbling } from '../../../src/stream/index.ts';
import type { E } from '../scenario-events.ts';

export default pipeline('reduce-max')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .reduce((a, b) => (b.v > a.v ? b : a))
  .map((w) => ({ key: w.key, start: w.window.start, best: w.value.v }))
  .toTopic('out');
