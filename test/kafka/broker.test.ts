import { Consumer } from '@platformatic/kafka';
import { beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/index.ts';
import { hasKafka, kafkaBroker, runKafkaJava } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { uniqueName } from '../support/temp-dir.ts';

describe.skipIf(!hasKafka)('a real Kafka broker', () => {
  let broker: KafkaEndpoints;
  beforeAll(async () => {
    broker = await kafkaBroker();
  }, 150_000);

  it("places keys on the partitions Kafka's own Java producer picks (murmur2)", async () => {
    const topic = uniqueName('murmur2-parity');
    await runKafkaJava('org.apache.kafka.tools.TopicCommand', [
      '--bootstrap-server',
      broker.bootstrap,
      '--create',
      '--topic',
      topic,
      '--partitions',
      '7',
      '--replication-factor',
      '1',
    ]);
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}-${'x'.repeat(i % 13)}`);
    await runKafkaJava(
      'org.apache.kafka.tools.ConsoleProducer',
      [
        '--bootstrap-server',
        broker.bootstrap,
        '--topic',
        topic,
        '--property',
        'parse.key=true',
        '--property',
        'key.separator=|',
      ],
      `${keys.map((k) => `${k}|v`).join('\n')}\n`,
    );
    const consumer = new Consumer({
      clientId: 'kappa-test',
      groupId: uniqueName('parity'),
      bootstrapBrokers: [broker.bootstrap],
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 200,
    });
    const seen = new Map<string, number>();
    for await (const message of stream) {
      seen.set(message.key.toString(), message.partition);
      if (seen.size === keys.length) break;
    }
    await stream.close();
    await consumer.close(true);
    expect(seen.size).toBe(keys.length);
    for (const key of keys)
      expect({ key, partition: seen.get(key) }).toEqual({
        key,
        partition: partitionForKey(Buffer.from(key), 7),
      });
  }, 120_000);
});
