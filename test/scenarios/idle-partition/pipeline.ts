import { pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('idle-partition')
  .source<E>('in', { eventTime: (e) => e.ts, idleAfter: 60000 })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
