import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { type Capture, readChanges, sql, startCapture, tableOf, until } from './cdc-helpers.ts';

describe.runIf(postgresAvailable())('Postgres CDC', () => {
  let server: PostgresServer;
  let capture: Capture | undefined;
  const temp = useTempDir('each');
  let db: string;
  let dbCount = 0;

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await capture?.close();
    capture = undefined;
  });

  /** A database of its own for each test: slots and publications are per database. */
  async function freshDatabase(): Promise<string> {
    const name = `cdc_${dbCount++}`;
    await sql(server.url, `CREATE DATABASE ${name}`);
    db = server.url.replace(/\/postgres$/, `/${name}`);
    return db;
  }

  it('snapshots existing rows, then streams inserts, updates and deletes as Debezium envelopes', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int, price numeric(10,2))');
    await sql(url, "INSERT INTO orders VALUES (1, 'apple', 3, 1.50), (2, 'pear', 1, 0.99)");
    capture = await startCapture(temp.dir, url, ['orders']);
    const topic = 'shop.public.orders';
    await until('the snapshot', async () => (await readChanges(capture!.bus, capture!.registry, topic)).length === 2);
    await sql(url, "INSERT INTO orders VALUES (3, 'plum', 7, 12.00)");
    await sql(url, 'UPDATE orders SET qty = 4 WHERE id = 1');
    await sql(url, 'DELETE FROM orders WHERE id = 2');
    const changes = await until('the stream', async () => {
      const c = await readChanges(capture!.bus, capture!.registry, topic);
      return c.length === 6 ? c : undefined;
    });
    const byKey = (key: string) => changes.filter((c) => c.key === key).map((c) => c.value && c.value.op);
    expect(byKey('{"id":1}')).toEqual(['r', 'u']);
    expect(byKey('{"id":2}')).toEqual(['r', 'd', null]);
    expect(byKey('{"id":3}')).toEqual(['c']);
    const update = changes.find((c) => c.value?.op === 'u')!.value!;
    expect(update.before).toBeNull(); // REPLICA IDENTITY DEFAULT: no before image
    expect(update.after).toEqual({ id: 1, item: 'apple', qty: 4, price: '1.50' });
    const source = update.source as Record<string, unknown>;
    expect(source).toMatchObject({ connector: 'postgresql', name: 'shop', db: 'cdc_0'.replace('0', String(dbCount - 1)), schema: 'public', table: 'orders', snapshot: 'false' });
    expect(typeof source.lsn).toBe('number');
    expect(typeof source.txId).toBe('number');
    const del = changes.find((c) => c.value?.op === 'd')!.value!;
    expect(del.before).toEqual({ id: 2, item: null, qty: null, price: null });
    expect(del.after).toBeNull();
    const rows = tableOf(changes);
    expect([...rows.keys()].sort()).toEqual(['{"id":1}', '{"id":3}']);
  }, 60_000);
});
