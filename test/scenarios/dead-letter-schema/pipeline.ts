import { jsonSchema, pipeline, tumbling } from '../../../src/stream/index.ts';
import { countAndTotal, type E, row } from '../scenario-events.ts';

// Values checked against a JSON Schema as they are read: one that fails it is a dead letter.
export default pipeline('dead-letter-schema')
  .source('in', {
    serde: jsonSchema<E>({
      type: 'object',
      properties: { k: { type: 'string' }, v: { type: 'number' }, ts: { type: 'integer' } },
      required: ['k', 'v', 'ts'],
    }),
    eventTime: (e) => e.ts,
  })
  .keyBy((e) => e.k)
  .window(tumbling(10))
  .aggregate(countAndTotal())
  .map(row)
  .toTopic('out');
