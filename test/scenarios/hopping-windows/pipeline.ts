import { hopping, pipeline } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('hopping-windows')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(hopping(10, 5))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
