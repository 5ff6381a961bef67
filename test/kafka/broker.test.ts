import { Consumer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/index.ts';
import { type KafkaBroker, kafkaAvailable, startKafkaBroker } from '../support/kafka-broker.ts';

describe.skipIf(!kafkaAvailable())('a real Kafka broker', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 240_000);
  afterAll(async () => broker?.stop());

  it("places keys on the partitions Kafka's own Java producer picks (murmur2)", async () => {
    const topic = 'murmur2-parity';
    await broker.java('org.apache.kafka.tools.TopicCommand', [
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
    await broker.java(
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
      groupId: 'parity',
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
