import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbViewStore, MemoryViewCache, Views } from '../../src/serve/index.ts';
import {
  type ChangeEvent,
  cdcTable,
  changes,
  count,
  PipelineRunner,
  pipeline,
  tumbling,
} from '../../src/stream/index.ts';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { type Capture, sql, startCapture, until } from './cdc-helpers.ts';

interface Customer {
  id: number;
  name: string;
  tier: string;
}

describe.runIf(postgresAvailable())('CDC tables in pipelines', () => {
  let server: PostgresServer;
  const temp = useTempDir('all');
  let capture: Capture;
  beforeAll(async () => {
    server = await startPostgres();
    await sql(server.url, 'CREATE TABLE customers (id int PRIMARY KEY, name text, tier text)');
    await sql(server.url, "INSERT INTO customers VALUES (1, 'Ada', 'gold'), (2, 'Bo', 'basic')");
    capture = await startCapture(path.join(temp.dir, 'log'), server.url, ['customers']);
    await until('the snapshot', async () => capture.source.status().phase === 'streaming');
  }, 60_000);
  afterAll(async () => {
    await capture?.close();
    await server?.stop();
  });

  it('joins a stream with a table CDC keeps, row changes and deletes included', async () => {
    const { bus, registry } = capture;
    await bus.createTopic('orders', { partitions: 1 });
    const enrich = pipeline('enrich')
      .source<{ order: number; customer: number }>('orders')
      .join(
        cdcTable<Customer>('shop.public.customers'),
        (o) => ({ id: o.customer }),
        (o, c) => ({ ...o, name: c?.name ?? null }),
        { type: 'left' },
      )
      .toTopic('enriched');
    const runner = new PipelineRunner({ bus, pipeline: enrich, registry });
    await runner.start();
    const producer = bus.producer();
    const send = (order: number, customer: number) =>
      producer.send([{ topic: 'orders', value: Buffer.from(JSON.stringify({ order, customer })) }]);
    const enriched = async () => {
      const consumer = bus.consumer({ reset: 'earliest' });
      await consumer.assign([{ topic: 'enriched', partition: 0, offset: 0 }]);
      const out = (await consumer.poll({ timeoutMs: 100, maxRecords: 100 })).map((r) =>
        JSON.parse(r.value!.toString()),
      );
      await consumer.close();
      return out;
    };
    try {
      await send(1, 1);
      await until('the first order', async () => (await enriched()).length === 1);
      await sql(server.url, "UPDATE customers SET name = 'Ada L.' WHERE id = 1");
      await sql(server.url, 'DELETE FROM customers WHERE id = 2');
      await until('the table to change', async () => {
        const table = runner.tables.get('shop.public.customers');
        return (
          (table?.get('{"id":1}') as Customer | undefined)?.name === 'Ada L.' &&
          table?.get('{"id":2}') === undefined
        );
      });
      await send(2, 1);
      await send(3, 2);
      const out = await until('three orders', async () => {
        const e = await enriched();
        return e.length === 3 ? e : undefined;
      });
      expect(out).toEqual([
        { order: 1, customer: 1, name: 'Ada' },
        { order: 2, customer: 1, name: 'Ada L.' },
        { order: 3, customer: 2, name: null },
      ]);
    } finally {
      await runner.stop();
      await producer.close();
    }
  }, 60_000);

  it('serves a view of a CDC stream: changes per tier per hour', async () => {
    const { bus, registry } = capture;
    const perTier = pipeline('per_tier')
      .source('shop.public.customers', {
        serde: changes<Customer>(),
        eventTime: (e: ChangeEvent<Customer>) => e.source.ts_ms,
      })
      .filter((e) => e.after !== null)
      .keyBy((e) => e.after!.tier)
      .window(tumbling('1h'), { emit: { updates: 0 } })
      .aggregate({ changes: count() })
      .toView('changes_per_tier');
    const runner = new PipelineRunner({ bus, pipeline: perTier, registry });
    const store = await DuckDbViewStore.open({ file: path.join(temp.dir, 'views.duckdb') });
    const views = new Views({
      bus,
      store,
      cache: new MemoryViewCache(),
      deadLetterTopic: 'dead-letters',
      materialize: [perTier],
    });
    await runner.start();
    await views.start();
    try {
      await sql(server.url, "INSERT INTO customers VALUES (3, 'Cy', 'silver'), (4, 'Di', 'silver')");
      await sql(server.url, "UPDATE customers SET name = 'Di B.' WHERE id = 4");
      const rows = await until('the view', async () => {
        // The view's table is made with its first rows.
        let answer: { rows: unknown[][] } = { rows: [] };
        try {
          answer = await views.query(
            "SELECT key, sum(changes)::int AS n FROM changes_per_tier WHERE key = 'silver' GROUP BY key",
            { maxRows: 10, timeoutMs: 5000 },
          );
        } catch {}
        return answer.rows[0]?.[1] === 3 ? answer.rows : undefined;
      });
      // Two inserts and an update of the silver tier's rows.
      expect(rows).toEqual([['silver', 3]]);
    } finally {
      await views.stop();
      await runner.stop();
      await store.close();
    }
  }, 60_000);
});
