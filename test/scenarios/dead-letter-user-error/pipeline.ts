import { pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('dead-letter-user-error')
  .source<E>('in', { eventTime: (e) => e.ts })
  .map((e) => {
    if (e.v < 0) throw new RangeError(`negative amount ${e.v}`);
    return e;
  })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
