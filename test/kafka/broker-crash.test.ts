import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKappaError, type KappaError } from '../../src/core/index.ts';
import { KafkaBus } from '../../src/kafka/index.ts';
import { SchemaRegistry } from '../../src/registry/index.ts';
import { hasKafka } from '../support/kafka.ts';
import { type KafkaBroker, startKafkaBroker } from '../support/kafka-broker.ts';
import { seededRandom } from '../support/random.ts';

/**
 * The broker itself is killed with kill -9 while a producer sends, and started again on the same data.
 * A broker of its own, so other tests are not disturbed.
 */
describe.skipIf(!hasKafka)('Kafka bus across a broker crash', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  }, 150_000);
  afterAll(async () => broker?.stop());

  it('fails sends with retriable typed errors while the broker is down, then loses and duplicates no acknowledged record, and the registry writes again', async () => {
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const bus = new KafkaBus({
      brokers: [broker.bootstrap],
      clientId: 'kappa-crash',
      replicationFactor: 1,
      timeoutMs: 2000,
      retries: 2,
    });
    const topic = 'crash';
    await bus.createTopic(topic, { partitions: 3 });
    // The schema registry on the same broker rides the outage out too.
    const registry = await SchemaRegistry.open({ bus });
    const schema = (name: string) => ({
      schemaType: 'AVRO' as const,
      schema: JSON.stringify({ type: 'record', name, fields: [{ name: 'a', type: 'int' }] }),
      references: [],
    });
    const beforeCrash = await registry.register('crash-a', schema('A'));
    // An assigned reader that was reading before the crash keeps reading after it.
    const follower = bus.consumer({ reset: 'latest' });
    await follower.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    let followed = -1;
    let following = true;
    const follow = (async () => {
      while (following) {
        try {
          for (const r of await follower.poll({ timeoutMs: 200 }))
            followed = Math.max(followed, Number(r.value!.toString()));
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    const producer = bus.producer();
    const acknowledged: number[] = [];
    const failures: KappaError[] = [];
    let next = 0;
    let running = true;
    const sending = (async () => {
      while (running) {
        const ids = Array.from({ length: 50 }, () => next++);
        try {
          await producer.send(
            ids.map((id) => ({ topic, key: Buffer.from(`k${id % 13}`), value: Buffer.from(String(id)) })),
          );
          acknowledged.push(...ids);
        } catch (error) {
          if (!isKappaError(error)) throw error;
          failures.push(error);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    const until = async (test: () => boolean, what: string) => {
      const deadline = Date.now() + 90_000;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`no ${what} within 90 s (seed ${seed})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const before = 500 + Math.floor(random() * 2000);
    await until(() => acknowledged.length >= before, `${before} acknowledged records`);
    await broker.kill();
    await until(() => failures.length > 0, 'failed send while the broker is down');
    const whileDown = acknowledged.length;
    await broker.restart();
    await until(() => acknowledged.length >= whileDown + 1000, 'sends after the restart');
    running = false;
    await sending;
    const last = Math.max(...acknowledged);
    await until(() => followed >= last, 'the follower reading past the restart');
    following = false;
    await follow;
    await follower.close();
    const afterCrash = await registry.register('crash-b', schema('B'));
    expect(afterCrash).toBe(beforeCrash + 1);
    expect(registry.schemaById(beforeCrash).subject).toBe('crash-a');
    await registry.close();

    expect(failures.every((e) => e.blame === 'external' && e.retriable)).toBe(true);
    const reader = bus.consumer({ reset: 'earliest' });
    await reader.assign([0, 1, 2].map((partition) => ({ topic, partition })));
    const counts = new Map<number, number>();
    for (let empty = 0; empty < 6; ) {
      const records = await reader.poll({ maxRecords: 10_000, timeoutMs: 500 });
      empty = records.length === 0 ? empty + 1 : 0;
      for (const r of records)
        counts.set(Number(r.value!.toString()), (counts.get(Number(r.value!.toString())) ?? 0) + 1);
    }
    await reader.close();
    await bus.close();
    const lost = acknowledged.filter((id) => !counts.has(id));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect({ seed, lost: lost.slice(0, 10), duplicated: duplicated.slice(0, 10) }).toEqual({
      seed,
      lost: [],
      duplicated: [],
    });
  }, 240_000);
});
