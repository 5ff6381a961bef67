import { Admin, Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ConnectionError } from '../../src/core/index.ts';
import { KafkaBus, type KafkaBusOptions } from '../../src/kafka/index.ts';
import { drain } from '../log/bus-contract.ts';
import { hasKafka, kafkaBroker, SASL_USERS } from '../support/kafka.ts';
import type { KafkaEndpoints } from '../support/kafka-broker.ts';
import { freePort } from '../support/net.ts';
import { uniqueName } from '../support/temp-dir.ts';

/** What only the Kafka bus has: compression on the wire, SASL and TLS, isolation levels, topic configs. */
describe.skipIf(!hasKafka)('Kafka bus: connection, compression and isolation', () => {
  let broker: KafkaEndpoints;
  const buses: KafkaBus[] = [];
  const open = (options: Partial<KafkaBusOptions> = {}): KafkaBus => {
    const bus = new KafkaBus({
      brokers: [broker.bootstrap],
      clientId: 'kappa-test',
      replicationFactor: 1,
      ...options,
    });
    buses.push(bus);
    return bus;
  };
  beforeAll(async () => {
    broker = await kafkaBroker();
  }, 150_000);
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });

  /** The record batches as stored on the broker, read with a raw Fetch request. */
  async function storedBatches(topic: string) {
    const admin = new Admin({ clientId: 'kappa-test-raw', bootstrapBrokers: [broker.bootstrap] });
    const metadata = await admin.metadata({ topics: [topic] });
    await admin.close();
    const info = metadata.topics.get(topic)!;
    const raw = new PlatformaticConsumer({
      clientId: 'kappa-test-raw',
      groupId: uniqueName('raw'),
      bootstrapBrokers: [broker.bootstrap],
    });
    try {
      const response = await raw.fetch({
        node: info.partitions[0]!.leader,
        maxWaitTime: 100,
        topics: [
          {
            topicId: info.id,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: 0n,
                lastFetchedEpoch: -1,
                partitionMaxBytes: 16 * 1024 * 1024,
              },
            ],
          },
        ],
      });
      return response.responses[0]!.partitions[0]!.records ?? [];
    } finally {
      await raw.close(true);
    }
  }

  // The record batch attribute's low three bits name the codec (Kafka's CompressionType ids).
  const CODECS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

  for (const [codec, id] of Object.entries(CODECS) as Array<[keyof typeof CODECS, number]>) {
    it(`compresses batches with ${codec} on the wire, idempotently, and reads them back`, async () => {
      const bus = open({ compression: codec });
      const topic = uniqueName(`zip-${codec}`);
      await bus.createTopic(topic, { partitions: 1 });
      const values = Array.from({ length: 300 }, (_, i) => `${'compressible '.repeat(40)}${i}`);
      await bus.producer().send(values.map((v) => ({ topic, value: Buffer.from(v) })));

      const batches = await storedBatches(topic);
      expect(batches.length).toBeGreaterThan(0);
      for (const batch of batches) {
        expect(batch.attributes & 0b111).toBe(id);
        // An idempotent producer's batches carry its producer id; a plain producer's carry -1.
        expect(batch.producerId).toBeGreaterThanOrEqual(0n);
      }
      const stored = batches.reduce((n, b) => n + b.length, 0);
      expect(stored).toBeLessThan(values.join('').length / 4);

      const reader = bus.consumer({ reset: 'earliest' });
      await reader.assign([{ topic, partition: 0 }]);
      const got = await drain(reader, values.length);
      expect(got.map((r) => r.value!.toString())).toEqual(values);
      await reader.close();
    });
  }

  it("splits a send larger than the broker's batch limit into requests, keeping order", async () => {
    const bus = open();
    const topic = uniqueName('big-send');
    await bus.createTopic(topic, { partitions: 1 });
    // 4,000 records of 1 KiB to one partition: a 4 MB batch, four times the broker's max.message.bytes.
    const values = Array.from({ length: 4000 }, (_, i) =>
      Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(1024, 'x')]),
    );
    const sent = await bus.producer().send(values.map((value) => ({ topic, value })));
    expect(sent.map((m) => m.offset)).toEqual(sent.map((_, i) => sent[0]!.offset + i));
    const reader = bus.consumer({ reset: 'earliest' });
    await reader.assign([{ topic, partition: 0 }]);
    const got = await drain(reader, values.length);
    expect(got.map((r) => r.value!.toString().split(':')[0])).toEqual(values.map((_, i) => String(i)));
    await reader.close();
  });

  const mechanisms = Object.keys(SASL_USERS) as Array<keyof typeof SASL_USERS>;
  for (const mechanism of mechanisms) {
    it(`authenticates with SASL ${mechanism} and produces and consumes`, async () => {
      await roundTrip(
        open({ brokers: [broker.saslBootstrap], sasl: { mechanism, ...SASL_USERS[mechanism] } }),
      );
    });
  }

  it('connects over TLS (SASL_SSL with SCRAM-SHA-512), trusting the given CA', async () => {
    await roundTrip(
      open({
        brokers: [broker.tlsBootstrap],
        tls: { ca: broker.tlsCa },
        sasl: { mechanism: 'SCRAM-SHA-512', ...SASL_USERS['SCRAM-SHA-512'] },
      }),
    );
  });

  async function roundTrip(bus: KafkaBus): Promise<void> {
    const topic = uniqueName('secure');
    await bus.createTopic(topic, { partitions: 1 });
    await bus.producer().send([{ topic, key: Buffer.from('k'), value: Buffer.from('secret payload') }]);
    const reader = bus.consumer({ group: uniqueName('g'), reset: 'earliest' });
    await reader.subscribe([topic]);
    const [record] = await drain(reader, 1);
    expect(record?.value?.toString()).toBe('secret payload');
    await reader.close();
  }

  it('answers wrong credentials, an untrusted certificate and no broker with typed errors that say why', async () => {
    const scram = SASL_USERS['SCRAM-SHA-256'];
    const wrongPassword = open({
      brokers: [broker.saslBootstrap],
      sasl: { mechanism: 'SCRAM-SHA-256', username: scram.username, password: 'not-the-password' },
      timeoutMs: 2000,
      retries: 0,
    });
    await expect(wrongPassword.listTopics()).rejects.toSatisfy(
      (e) => e instanceof AuthenticationError && /SASL credentials/.test(e.message),
    );

    const untrusted = open({
      brokers: [broker.tlsBootstrap],
      tls: true,
      sasl: { mechanism: 'SCRAM-SHA-512', ...SASL_USERS['SCRAM-SHA-512'] },
      timeoutMs: 2000,
      retries: 0,
    });
    await expect(untrusted.listTopics()).rejects.toSatisfy(
      (e) => e instanceof AuthenticationError && /TLS handshake failed/.test(e.message),
    );

    const nobody = `127.0.0.1:${await freePort()}`;
    const down = open({ brokers: [nobody], timeoutMs: 1000, retries: 0 });
    await expect(down.createTopic(uniqueName('t'), { partitions: 1 })).rejects.toSatisfy(
      (e) => e instanceof ConnectionError && e.retriable && e.message.includes(nobody),
    );

    const needsSasl = open({ brokers: [broker.saslBootstrap], timeoutMs: 2000, retries: 0 });
    await expect(needsSasl.listTopics()).rejects.toSatisfy(
      (e) => e instanceof ConnectionError && /TLS or SASL/.test(e.message),
    );
  });

  it("shows an open transaction's records to read_uncommitted readers only", async () => {
    const bus = open();
    const topic = uniqueName('iso');
    await bus.createTopic(topic, { partitions: 1 });
    const committed = bus.consumer({ reset: 'earliest', isolation: 'read_committed' });
    const uncommitted = bus.consumer({ reset: 'earliest', isolation: 'read_uncommitted' });
    await committed.assign([{ topic, partition: 0 }]);
    await uncommitted.assign([{ topic, partition: 0 }]);
    const txn = await bus.producer({ transactionalId: uniqueName('tx') }).beginTransaction();
    await txn.send([{ topic, value: Buffer.from('pending') }]);
    expect((await drain(uncommitted, 1)).map((r) => r.value!.toString())).toEqual(['pending']);
    expect(await committed.poll({ timeoutMs: 1000 })).toEqual([]);
    await txn.commit();
    expect((await drain(committed, 1)).map((r) => r.value!.toString())).toEqual(['pending']);
  });

  it('creates topics with the retention and compaction asked for, as the broker reports them', async () => {
    const bus = open();
    const kept = uniqueName('kept');
    await bus.createTopic(kept, { partitions: 3, retention: '2h', retentionBytes: 10_000_000 });
    expect(await bus.describeTopic(kept)).toMatchObject({
      partitions: 3,
      compacted: false,
      retentionMs: 7_200_000,
      retentionBytes: 10_000_000,
    });
    const table = uniqueName('table');
    await bus.createTopic(table, { partitions: 1, compacted: true, tombstoneRetention: '1h' });
    expect(await bus.describeTopic(table)).toMatchObject({ compacted: true });
  });
});
