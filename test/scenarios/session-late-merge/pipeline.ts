import { pipeline, session } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

export default pipeline('session-late-merge')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(session(10), { allowedLateness: 100 })
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
