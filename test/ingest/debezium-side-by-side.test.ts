import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Debezium, debeziumAvailable, startDebezium } from '../support/debezium.ts';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { type Capture, readChanges, sql, startCapture, until } from './cdc-helpers.ts';

/** JSON as Kafka Connect's JsonConverter writes values: bytes in base64. */
const asConnectJson = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_k, v) =>
      v?.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('base64') : v,
    ),
  );

/**
 * What both must agree on, field by field (docs/ingest.md lists the fields that differ). A before
 * image of the key only (REPLICA IDENTITY DEFAULT) is compared on its key: Debezium fills the other
 * NOT NULL columns with their type's empty value, Kappa with null.
 */
const compared = (
  key: Record<string, unknown>,
  value: Record<string, unknown> | null,
  keyOnlyBefore: boolean,
) => {
  if (value === null) return { key, tombstone: true };
  const source = value.source as Record<string, unknown>;
  const before = value.before as Record<string, unknown> | null;
  return {
    key,
    op: value.op,
    before: asConnectJson(
      before && keyOnlyBefore ? Object.fromEntries(Object.keys(key).map((k) => [k, before[k]])) : before,
    ),
    after: asConnectJson(value.after),
    lsn: source.lsn,
    txId: source.txId,
    table: `${source.schema}.${source.table}`,
  };
};

describe.runIf(postgresAvailable() && debeziumAvailable())('Kappa beside Debezium', () => {
  let server: PostgresServer;
  let debezium: Debezium | undefined;
  let capture: Capture | undefined;
  const temp = useTempDir('all');
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await debezium?.stop();
    await capture?.close();
    await server?.stop();
  });

  it('gives the same envelopes as Debezium’s embedded engine for the same changes', async () => {
    const url = server.url;
    await sql(url, "CREATE TYPE mood AS ENUM ('sad', 'happy')");
    await sql(
      url,
      `CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty smallint, price numeric(10,2), big bigint,
        flag boolean, f8 double precision, at timestamptz, ts timestamp, d date, tm time, tags text[], meta jsonb,
        u uuid, b bytea, m mood, iv interval, tt timetz)`,
    );
    await sql(url, 'CREATE TABLE docs (id int PRIMARY KEY, title text, body text)');
    await sql(url, 'ALTER TABLE docs REPLICA IDENTITY FULL');
    await sql(url, "INSERT INTO orders (id, item) VALUES (0, 'marker')");
    debezium = await startDebezium({
      url,
      tables: 'public.orders,public.docs',
      slot: 'debezium',
      publication: 'dbz_publication',
    });
    capture = await startCapture(temp.dir, url, ['orders', 'docs'], { partitions: 1 });
    await until('Kappa streaming', async () => capture!.source.status().phase === 'streaming');
    // Debezium streams once its task has started and its slot is there: a first change shows it.
    await sql(url, "UPDATE orders SET item = 'warm' WHERE id = 0");
    await until('Debezium streaming', async () => debezium!.events.length > 0, 60_000);
    const changes = [
      `INSERT INTO orders VALUES (1, 'apple', 3, 1.50, 9007199254740990, true, 2.5, '2024-02-29 12:34:56.789+02',
        '2024-02-29 12:34:56.789012', '2024-02-29', '01:02:03.5', '{"a b",c}', '{"k": [1, 2]}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', 'happy', '1 day 02:00:00', '01:02:03+05:30')`,
      "INSERT INTO orders (id, item, at, tm, iv) VALUES (2, 'pear', '2024-01-01 00:00:00+00', '23:59:59', '-1 day 03:00:00'), (3, 'plum', NULL, NULL, '1 year -2 mons 0.25 seconds')",
      'UPDATE orders SET qty = 4, price = 2.25 WHERE id = 1',
      'UPDATE orders SET id = 4 WHERE id = 2',
      'DELETE FROM orders WHERE id = 3',
      "INSERT INTO docs VALUES (1, 'first', 'text')",
      "UPDATE docs SET title = 'second' WHERE id = 1",
      'DELETE FROM docs WHERE id = 1',
      "BEGIN; INSERT INTO orders (id, item) VALUES (5, 'fig'); UPDATE orders SET item = 'figs' WHERE id = 5; COMMIT",
    ];
    for (const statement of changes) await sql(url, statement);
    // 12 events and 3 tombstones (the delete, the key change’s delete, the docs delete).
    const expected = 15;
    const marker = (key: unknown) => JSON.stringify(key) === '{"id":0}';
    const theirs = await until(
      'Debezium’s events',
      async () => {
        const e = debezium!.events.filter((e) => !marker(e.key));
        return e.length >= expected ? e : undefined;
      },
      60_000,
    );
    const ours = await until('Kappa’s events', async () => {
      const read = async (t: string) =>
        (await readChanges(capture!.bus, capture!.registry, t)).filter(
          (c) => c.value?.op !== 'r' && !marker(JSON.parse(c.key)),
        );
      const all = [...(await read('shop.public.orders')), ...(await read('shop.public.docs'))];
      if (process.env.DEBUG_CDC)
        console.log(all.length, JSON.stringify(all.map((c) => [c.topic, c.key, c.value?.op])));
      return all.length >= expected ? all : undefined;
    });
    const byTopic = (events: Array<{ topic: string; c: ReturnType<typeof compared> }>, topic: string) =>
      events.filter((e) => e.topic === topic).map((e) => e.c);
    const keyOnly = (topic: string) => topic === 'shop.public.orders';
    const theirsCompared = theirs.map((e) => ({
      topic: e.topic,
      c: compared(e.key!, e.value, keyOnly(e.topic)),
    }));
    const oursCompared = ours.map((e) => ({
      topic: e.topic,
      c: compared(JSON.parse(e.key), e.value, keyOnly(e.topic)),
    }));
    for (const topic of ['shop.public.orders', 'shop.public.docs'])
      expect(byTopic(oursCompared, topic)).toEqual(byTopic(theirsCompared, topic));
  }, 180_000);
});
