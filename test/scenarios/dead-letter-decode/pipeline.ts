import { pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('dead-letter-decode')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
