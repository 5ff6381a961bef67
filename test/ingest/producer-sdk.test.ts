import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type KappaServer } from '../../src/http/index.ts';
import { createProducer, ProduceRefusedError } from '../../src/ingest/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { SchemaRegistry, WireSerde } from '../../src/registry/index.ts';
import { startFlakyProxy } from '../support/flaky-proxy.ts';
import { useTempDir } from '../support/temp-dir.ts';

interface Payment {
  id: string;
  amount: number;
}

describe('the producer SDK', () => {
  const temp = useTempDir('all');
  let bus: EmbeddedBus;
  let registry: SchemaRegistry;
  let server: KappaServer;
  let url: string;

  beforeAll(async () => {
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    registry = await SchemaRegistry.open({ bus });
    server = await createServer({ bus, registry });
    url = await server.listen(0, '127.0.0.1');
    for (const topic of ['events', 'flaky', 'payments', 'local'])
      await bus.createTopic(topic, { partitions: 1 });
    await registry.register('payments-value', {
      schemaType: 'AVRO',
      references: [],
      schema: JSON.stringify({
        type: 'record',
        name: 'Payment',
        fields: [
          { name: 'id', type: 'string' },
          { name: 'amount', type: 'double' },
        ],
      }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await registry?.close();
    await bus?.close();
  });

  /** Every value of a topic, in offset order. */
  async function values(topic: string): Promise<unknown[]> {
    const consumer = bus.consumer({ reset: 'earliest' });
    await consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const end = (await bus.partitionOffsets(topic))[0]!.end;
    const out: unknown[] = [];
    while ((consumer.position(topic, 0) ?? 0) < end)
      for (const r of await consumer.poll({ timeoutMs: 100, maxRecords: 10_000 }))
        out.push(JSON.parse(r.value!.toString()));
    await consumer.close();
    return out;
  }

  it('batches records over HTTP and delivers them all, in order', async () => {
    const producer = createProducer({ url, lingerMs: 2, batchRecords: 500 });
    const sent = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => producer.send('events', { key: `k${i % 7}`, value: { i } })),
    );
    await producer.close();
    expect(sent.map((d) => d.offset)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(await values('events')).toEqual(Array.from({ length: 3000 }, (_, i) => ({ i })));
  });

  it('retries after a dropped connection and a timed-out request without duplicating a record', async () => {
    const proxy = await startFlakyProxy({ host: '127.0.0.1', port: Number(new URL(url).port) });
    // The answers to these requests are lost (the server appended), or come after the client gave up.
    proxy.plan.set(3, 'drop');
    proxy.plan.set(8, 'drop');
    proxy.plan.set(12, { delayMs: 1500 });
    const producer = createProducer({
      url: proxy.url,
      batchRecords: 100,
      lingerMs: 1,
      requestTimeoutMs: 500,
      retryBackoffMs: 20,
    });
    try {
      await Promise.all(Array.from({ length: 2000 }, (_, i) => producer.send('flaky', { value: i })));
      await producer.flush();
    } finally {
      await producer.close();
      await proxy.close();
    }
    expect(proxy.requests).toBeGreaterThan(20); // 20 batches and the retries
    expect(await values('flaky')).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('checks typed values against the registry’s schema before sending, naming the field', async () => {
    const producer = createProducer({ url });
    const payments = producer.topic<Payment>('payments');
    const delivered = await payments.send({ id: 'p1', amount: 10 });
    await expect(payments.send({ id: 'p2', amount: 'ten' } as unknown as Payment)).rejects.toMatchObject({
      code: 'KAPPA_RECORD_INVALID',
      message: expect.stringContaining('$.amount'),
    });
    await producer.close();
    const serde = new WireSerde(registry);
    const consumer = bus.consumer({ reset: 'earliest' });
    await consumer.assign([{ topic: 'payments', partition: 0, offset: 0 }]);
    const records = await consumer.poll({ timeoutMs: 200 });
    await consumer.close();
    expect(delivered.offset).toBe(0);
    expect(records.map((r) => serde.deserialize(r.value!).value)).toEqual([{ id: 'p1', amount: 10 }]);
  });

  it('sends a batch over the server’s records per request in halves', async () => {
    const small = await createServer({ bus, maxRecordsPerRequest: 100 });
    const smallUrl = await small.listen(0, '127.0.0.1');
    await bus.createTopic('halves', { partitions: 1 });
    const producer = createProducer({ url: smallUrl, batchRecords: 1000, lingerMs: 50 });
    try {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => producer.send('halves', { value: i })));
    } finally {
      await producer.close();
      await small.close();
    }
    expect(await values('halves')).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('fails the records of a request Kappa refuses, without retrying it', async () => {
    const producer = createProducer({ url });
    await expect(producer.send('no-such-topic', { value: 1 })).rejects.toBeInstanceOf(ProduceRefusedError);
    await producer.close();
  });

  it('produces in process onto the bus, typed topics checked against the registry', async () => {
    const producer = createProducer({ bus, registry, lingerMs: 1 });
    await Promise.all([producer.send('local', { value: 'a' }), producer.send('local', { value: 'b' })]);
    await expect(
      producer.topic<Payment>('payments').send({ id: 3 } as unknown as Payment),
    ).rejects.toMatchObject({
      code: 'KAPPA_RECORD_INVALID',
    });
    await producer.close();
    expect(await values('local')).toEqual(['a', 'b']);
  });
});
