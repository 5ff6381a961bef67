import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/index.ts';
import { KafkaBus } from '../../src/kafka/index.ts';
import { drain } from '../log/bus-contract.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { serviceAvailable } from '../support/services.ts';
import { uniqueName } from '../support/temp-dir.ts';

const run = promisify(execFile);
const hasKcat = hasKafka && serviceAvailable('kcat', [['kcat', '-V']]).available;

/** kcat (librdkafka, Debian's package) is a Kafka client no one here wrote: records cross both ways. */
describe.skipIf(!hasKcat)('interop with kcat', () => {
  let broker: KafkaEndpoints;
  let bus: KafkaBus;
  beforeAll(async () => {
    broker = await kafkaBroker();
    bus = new KafkaBus({ brokers: [broker.bootstrap], clientId: 'kappa-test', replicationFactor: 1 });
  }, 150_000);
  afterAll(async () => bus?.close());

  async function kcat(args: string[], input?: string): Promise<string> {
    const child = run('kcat', ['-b', broker.bootstrap, '-q', ...args], {
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  }

  it("reads what kcat produced (keys, values, headers, zstd), on the partitions Kafka's partitioner picks", async () => {
    const topic = uniqueName('from-kcat');
    await bus.createTopic(topic, { partitions: 7 });
    const keys = Array.from({ length: 120 }, (_, i) => `user-${i}-${'k'.repeat(i % 11)}`);
    // murmur2_random is librdkafka's name for the Java client's default partitioner.
    await kcat(
      [
        '-P',
        '-t',
        topic,
        '-K',
        '|',
        '-H',
        'source=kcat',
        '-z',
        'zstd',
        '-X',
        'topic.partitioner=murmur2_random',
      ],
      `${keys.map((k, i) => `${k}|value-${i}`).join('\n')}\n`,
    );
    const reader = bus.consumer({ reset: 'earliest' });
    await reader.assign(Array.from({ length: 7 }, (_, partition) => ({ topic, partition })));
    const got = await drain(reader, keys.length);
    await reader.close();
    expect(got).toHaveLength(keys.length);
    for (const r of got) {
      const key = r.key!.toString();
      expect(r.value!.toString()).toBe(`value-${keys.indexOf(key)}`);
      expect(r.headers.source?.toString()).toBe('kcat');
      expect({ key, partition: r.partition }).toEqual({ key, partition: partitionForKey(r.key!, 7) });
    }
  });

  it('writes what kcat reads: keys, values, headers, partitions, lz4, and only committed transactions', async () => {
    const topic = uniqueName('to-kcat');
    const lz4 = new KafkaBus({ brokers: [broker.bootstrap], clientId: 'kappa-test', compression: 'lz4' });
    try {
      await lz4.createTopic(topic, { partitions: 5 });
      const keys = Array.from({ length: 100 }, (_, i) => `device-${i}`);
      const sent = await lz4.producer().send(
        keys.map((k, i) => ({
          topic,
          key: Buffer.from(k),
          value: Buffer.from(`reading ${i}`),
          headers: { unit: Buffer.from('celsius') },
        })),
      );
      const producer = lz4.producer({ transactionalId: uniqueName('tx') });
      const aborted = await producer.beginTransaction();
      await aborted.send([{ topic, key: Buffer.from('device-0'), value: Buffer.from('aborted') }]);
      await aborted.abort();
      const committed = await producer.beginTransaction();
      await committed.send([{ topic, key: Buffer.from('device-0'), value: Buffer.from('committed') }]);
      await committed.commit();

      const out = await kcat([
        '-C',
        '-t',
        topic,
        '-e',
        '-X',
        'isolation.level=read_committed',
        '-f',
        '%p\t%o\t%k\t%s\t%h\n',
      ]);
      const lines = out
        .trim()
        .split('\n')
        .map((line) => line.split('\t'));
      const byValue = new Map(
        lines.map(([partition, offset, key, value, headers]) => [
          value!,
          { partition: Number(partition), offset: Number(offset), key, headers },
        ]),
      );
      expect(lines).toHaveLength(keys.length + 1);
      expect(byValue.has('aborted')).toBe(false);
      expect(byValue.get('committed')).toMatchObject({
        key: 'device-0',
        partition: partitionForKey(Buffer.from('device-0'), 5),
      });
      for (const [i, key] of keys.entries()) {
        expect(byValue.get(`reading ${i}`)).toEqual({
          ...sent[i],
          topic: undefined,
          key,
          headers: 'unit=celsius',
        });
      }
    } finally {
      await lz4.close();
    }
  });
});
