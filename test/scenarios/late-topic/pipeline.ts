import { pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('late-topic')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(10), { lateTopic: 'late-payments' })
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
