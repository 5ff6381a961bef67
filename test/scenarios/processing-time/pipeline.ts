import { count, pipeline, tumbling } from '../../../src/stream/index.ts';

interface E {
  k: string;
}

/** Windows of arrival time: event times in the records do not matter, the clock does. */
export default pipeline('processing-time')
  .source<E>('in', { eventTime: 'processing' })
  .keyBy((e) => e.k)
  .window(tumbling('10s'))
  .aggregate({ n: count() })
  .map((w) => ({ start: w.window.start, n: w.value.n }))
  .toTopic('out');
