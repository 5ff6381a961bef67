import { pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('filter-flatmap')
  .source<E>('in', { eventTime: (e) => e.ts })
  .filter((e) => e.v > 0)
  .flatMap((e) => [e, { ...e, k: `${e.k}-copy` }])
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
