import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReplicationConnection } from '../../src/ingest/cdc/replication-connection.ts';
import { Metrics } from '../../src/ops/index.ts';
import { readDeadLetter } from '../../src/stream/index.ts';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { sample } from '../support/prometheus-text.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { type Capture, readChanges, sql, startCapture, tableOf, until } from './cdc-helpers.ts';
import { accountRows, checkAccounts, seedAccounts, startWriter } from './cdc-workload.ts';

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
    await sql(
      url,
      'CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int, price numeric(10,2))',
    );
    await sql(url, "INSERT INTO orders VALUES (1, 'apple', 3, 1.50), (2, 'pear', 1, 0.99)");
    const metrics = new Metrics().start();
    capture = await startCapture(temp.dir, url, ['orders']);
    const topic = 'shop.public.orders';
    await until(
      'the snapshot',
      async () => (await readChanges(capture!.bus, capture!.registry, topic)).length === 2,
    );
    await sql(url, "INSERT INTO orders VALUES (3, 'plum', 7, 12.00)");
    await sql(url, 'UPDATE orders SET qty = 4 WHERE id = 1');
    await sql(url, 'DELETE FROM orders WHERE id = 2');
    const changes = await until('the stream', async () => {
      const c = await readChanges(capture!.bus, capture!.registry, topic);
      return c.length === 6 ? c : undefined;
    });
    const byKey = (key: string) =>
      changes.filter((c) => c.key === key).map((c) => (c.value === null ? null : c.value.op));
    expect(byKey('{"id":1}')).toEqual(['r', 'u']);
    expect(byKey('{"id":2}')).toEqual(['r', 'd', null]);
    expect(byKey('{"id":3}')).toEqual(['c']);
    const update = changes.find((c) => c.value?.op === 'u')!.value!;
    expect(update.before).toBeNull(); // REPLICA IDENTITY DEFAULT: no before image
    expect(update.after).toEqual({ id: 1, item: 'apple', qty: 4, price: '1.50' });
    const source = update.source as Record<string, unknown>;
    expect(source).toMatchObject({
      connector: 'postgresql',
      name: 'shop',
      db: 'cdc_0'.replace('0', String(dbCount - 1)),
      schema: 'public',
      table: 'orders',
      snapshot: 'false',
    });
    expect(typeof source.lsn).toBe('number');
    expect(typeof source.txId).toBe('number');
    const del = changes.find((c) => c.value?.op === 'd')!.value!;
    expect(del.before).toEqual({ id: 2, item: null, qty: null, price: null });
    expect(del.after).toBeNull();
    const rows = tableOf(changes);
    expect([...rows.keys()].sort()).toEqual(['{"id":1}', '{"id":3}']);
    // Two snapshot rows, three changes and the delete's tombstone, counted as committed.
    const text = await metrics.text();
    metrics.stop();
    expect(sample(text, 'kappa_cdc_records_total', { source: 'shop', topic })).toBe(6);
  }, 60_000);

  it('captures the common column types the same way in the snapshot and in the stream', async () => {
    const url = await freshDatabase();
    await sql(url, "CREATE TYPE mood AS ENUM ('sad', 'happy')");
    await sql(
      url,
      `CREATE TABLE kinds (id bigint PRIMARY KEY, b boolean, s smallint, i integer, f4 real, f8 double precision,
        n numeric, n2 numeric(12,4), ts timestamp, ts3 timestamp(3), tz timestamptz, d date, tm time, tmtz timetz,
        j json, jb jsonb, u uuid, by bytea, m mood, ai int[], at text[], iv interval, vc varchar(10), ch char(3),
        "Odd Name" text)`,
    );
    const values = `true, -2, 7, 1.5, 'Infinity', 123456789012345678901234567890.123, 1.5, '2024-02-29 12:34:56.789012',
      '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.5+02', '2024-02-29', '01:02:03.5', '01:02:03+05:30',
      '{"a": 1}', '{"b": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', 'happy', '{1,NULL,3}',
      '{"a b",c}', '1 year 2 mons 3 days 04:05:06.5', 'héllo', 'ab', 'x'`;
    await sql(url, `INSERT INTO kinds VALUES (1, ${values})`);
    capture = await startCapture(temp.dir, url, ['kinds']);
    await streaming(capture);
    await sql(url, `INSERT INTO kinds VALUES (2, ${values})`);
    await sql(url, 'INSERT INTO kinds (id) VALUES (3)');
    const changes = await until('three rows', async () => {
      const c = await readChanges(capture!.bus, capture!.registry, 'shop.public.kinds');
      return c.length === 3 ? c : undefined;
    });
    const after = (id: number) =>
      changes.find((c) => c.key === `{"id":${id}}`)!.value!.after as Record<string, unknown>;
    const expected = {
      b: true,
      s: -2,
      i: 7,
      f4: 1.5,
      f8: Infinity,
      n: '123456789012345678901234567890.123',
      n2: '1.5000',
      ts: Date.UTC(2024, 1, 29, 12, 34, 56) * 1000 + 789012,
      ts3: Date.UTC(2024, 1, 29, 12, 34, 56, 789),
      tz: '2024-02-29T10:34:56.500000Z',
      d: Date.UTC(2024, 1, 29) / 86_400_000,
      tm: 3_723_500_000,
      tmtz: '19:32:03Z',
      j: '{"a": 1}',
      jb: '{"b": [1, 2]}',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      by: Buffer.from('deadbeef', 'hex'),
      m: 'happy',
      ai: [1, null, 3],
      at: ['a b', 'c'],
      iv: 'P1Y2M3DT4H5M6.5S',
      vc: 'héllo',
      ch: 'ab ',
      Odd_Name: 'x',
    };
    expect(changes.find((c) => c.key === '{"id":1}')!.value!.op).toBe('r');
    expect(changes.find((c) => c.key === '{"id":2}')!.value!.op).toBe('c');
    expect(after(1)).toEqual({ id: 1, ...expected });
    expect(after(2)).toEqual({ id: 2, ...expected });
    expect(Object.values(after(3)).filter((v) => v !== null)).toEqual([3]);
  }, 60_000);

  it('gives before images with REPLICA IDENTITY FULL, splits a key change into delete and create, and keeps unchanged TOAST values', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE docs (id int PRIMARY KEY, title text, body text)');
    await sql(url, 'CREATE TABLE notes (id int PRIMARY KEY, title text, body text)');
    await sql(url, 'ALTER TABLE docs REPLICA IDENTITY FULL');
    // Out of line and uncompressed (TOAST): an update that leaves it alone does not send it again.
    for (const table of ['docs', 'notes'])
      await sql(url, `ALTER TABLE ${table} ALTER COLUMN body SET STORAGE EXTERNAL`);
    const big = Array.from({ length: 40_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(
      '',
    );
    capture = await startCapture(temp.dir, url, ['docs', 'notes']);
    await streaming(capture);
    for (const table of ['docs', 'notes']) {
      await sql(url, `INSERT INTO ${table} VALUES (1, 'first', $1)`, [big]);
      await sql(url, `UPDATE ${table} SET title = 'second' WHERE id = 1`);
      await sql(url, `UPDATE ${table} SET id = 2 WHERE id = 1`);
    }
    const read = (table: string) =>
      until(`${table} changes`, async () => {
        const c = await readChanges(capture!.bus, capture!.registry, `shop.public.${table}`);
        return c.length === 5 ? c : undefined;
      });
    const docs = await read('docs');
    const ops = (key: string) => docs.filter((c) => c.key === key).map((c) => c.value?.op ?? null);
    expect(ops('{"id":1}')).toEqual(['c', 'u', 'd', null]);
    expect(ops('{"id":2}')).toEqual(['c']);
    const docUpdate = docs.find((c) => c.value?.op === 'u')!.value!;
    expect(docUpdate.before).toEqual({ id: 1, title: 'first', body: big });
    expect(docUpdate.after).toEqual({ id: 1, title: 'second', body: big });
    expect(docs.find((c) => c.value?.op === 'c' && c.key === '{"id":2}')!.value!.after).toEqual({
      id: 2,
      title: 'second',
      body: big,
    });
    const notes = await read('notes');
    const noteUpdate = notes.find((c) => c.value?.op === 'u')!.value!;
    expect(noteUpdate.before).toBeNull();
    // Without the old row, an unchanged out-of-line value is Debezium's placeholder, never a null.
    expect(noteUpdate.after).toEqual({ id: 1, title: 'second', body: '__debezium_unavailable_value' });
    expect(notes.find((c) => c.value?.op === 'd')!.value!.before).toEqual({ id: 1, title: null, body: null });
  }, 60_000);

  it('empties the topic on TRUNCATE, and registers a new schema version when a column is added mid-stream', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE items (id int PRIMARY KEY, name text)');
    await sql(url, "INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 5) g");
    capture = await startCapture(temp.dir, url, ['items']);
    const topic = 'shop.public.items';
    await until(
      'the snapshot',
      async () => tableOf(await readChanges(capture!.bus, capture!.registry, topic)).size === 5,
    );
    await sql(url, 'ALTER TABLE items ADD COLUMN price numeric(8,2)');
    await sql(url, "INSERT INTO items VALUES (6, 'six', 6.60)");
    const six = await until('the row with the new column', async () =>
      tableOf(await readChanges(capture!.bus, capture!.registry, topic)).get('{"id":6}'),
    );
    expect(six).toEqual({ id: 6, name: 'six', price: '6.60' });
    expect(capture.registry.versions(`${topic}-value`)).toEqual([1, 2]);
    await sql(
      url,
      "BEGIN; INSERT INTO items VALUES (7, 'seven', 1); TRUNCATE items; INSERT INTO items VALUES (8, 'eight', 2); COMMIT",
    );
    const rows = await until('the truncate', async () => {
      const t = tableOf(await readChanges(capture!.bus, capture!.registry, topic));
      return t.size === 1 ? t : undefined;
    });
    expect([...rows.entries()]).toEqual([['{"id":8}', { id: 8, name: 'eight', price: '2.00' }]]);
    const ops = (await readChanges(capture.bus, capture.registry, topic)).map((c) => c.value?.op ?? null);
    expect(ops).toContain('t');
  }, 60_000);

  it('refuses a table without a primary key, naming it, and a database without logical WAL', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE loose (a int, b text)');
    await expect(startCapture(temp.dir, url, ['loose'])).rejects.toMatchObject({
      code: 'KAPPA_CDC_SETUP',
      message: expect.stringContaining('Table public.loose has no primary key'),
    });
    await expect(startCapture(temp.dir, url, ['missing'])).rejects.toMatchObject({
      code: 'KAPPA_CDC_SETUP',
      message: expect.stringContaining('public.missing does not exist'),
    });
  }, 60_000);

  it('dead-letters a row with a value of an unsupported type or too large a record, naming why, and goes on', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE shapes (id int PRIMARY KEY, at point, note text)');
    capture = await startCapture(temp.dir, url, ['shapes'], { maxRecordBytes: 10_000 });
    await sql(
      url,
      "INSERT INTO shapes VALUES (1, '(1,2)', 'a'), (2, NULL, 'b'), (3, NULL, repeat('x', 20000)), (4, NULL, 'd')",
    );
    const rows = await until('the rows that fit', async () => {
      const t = tableOf(await readChanges(capture!.bus, capture!.registry, 'shop.public.shapes'));
      return t.size === 2 ? t : undefined;
    });
    expect([...rows.keys()].sort()).toEqual(['{"id":2}', '{"id":4}']);
    const letters = await until('two dead letters', async () => {
      const l = [...(await readLatestLetters(capture!))];
      return l.length === 2 ? l : undefined;
    });
    expect(letters[0]).toMatch(/Column at of public\.shapes is of type point, which Kappa does not capture/);
    expect(letters[1]).toMatch(/more than log\.maxRecordBytes/);
  }, 60_000);

  it('waits for a slot another client holds, saying so, and captures once it is let go', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE ticks (id int PRIMARY KEY)');
    capture = await startCapture(temp.dir, url, ['ticks']);
    await streaming(capture);
    await capture.close();
    capture = undefined;
    const holder = await ReplicationConnection.open(url);
    await holder.start('kappa_shop', 'kappa_shop', 0n, {
      onMessage: async () => {},
      onKeepalive: async () => {},
      onError: () => {},
    });
    capture = await startCapture(temp.dir, url, ['ticks']);
    const status = await until('the slot in use', async () => {
      const s = capture!.source.status();
      return s.phase === 'retrying' ? s : undefined;
    });
    expect(status.lastError).toMatch(/Replication slot kappa_shop is in use by another client/);
    await sql(url, 'INSERT INTO ticks VALUES (1)');
    await holder.close();
    await until('the row after the slot was let go', async () =>
      tableOf(await readChanges(capture!.bus, capture!.registry, 'shop.public.ticks')).has('{"id":1}'),
    );
  }, 90_000);

  it('lets the slot advance past WAL of tables it does not capture', async () => {
    const url = await freshDatabase();
    await sql(url, 'CREATE TABLE watched (id int PRIMARY KEY)');
    await sql(url, 'CREATE TABLE other (id int PRIMARY KEY)');
    capture = await startCapture(temp.dir, url, ['watched']);
    await streaming(capture);
    const before = (
      await sql(
        url,
        "SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = 'kappa_shop'",
      )
    ).rows[0].l;
    await sql(url, 'INSERT INTO other SELECT generate_series(1, 1000)');
    // The insert position: under synchronous_commit=off the write position trails the commit.
    const lsn = (await sql(url, 'SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l;
    await until(
      "the slot past the other table's writes",
      async () => {
        const { rows } = await sql(
          url,
          "SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'kappa_shop'",
          [lsn],
        );
        return rows[0].ok === true;
      },
      60_000,
    );
    expect(before).not.toBe(lsn);
  }, 90_000);
});

function streaming(capture: Capture): Promise<true> {
  return until('streaming', async () => capture.source.status().phase === 'streaming');
}

/** Each dead letter's message, in order. */
async function readLatestLetters(capture: Capture): Promise<string[]> {
  const out: string[] = [];
  const consumer = capture.bus.consumer({ reset: 'earliest' });
  const ranges = await capture.bus.partitionOffsets('dead-letters');
  await consumer.assign(
    ranges.map((r) => ({ topic: 'dead-letters', partition: r.partition, offset: r.start })),
  );
  while (ranges.some((r) => (consumer.position('dead-letters', r.partition) ?? 0) < r.end))
    for (const r of await consumer.poll({ timeoutMs: 100 })) out.push(readDeadLetter(r)!.message);
  await consumer.close();
  return out;
}

describe.runIf(postgresAvailable())('Postgres CDC under concurrent writes', () => {
  let server: PostgresServer;
  const temp = useTempDir('each');
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('meets the snapshot and the stream without a gap or a duplicate while rows change under it', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    console.log(`snapshot seam seed ${seed}`);
    await seedAccounts(server.url, 20_000);
    const writer = startWriter(server.url, seed, 20_001);
    await until('the writer under way', async () => writer.committed > 20);
    const capture = await startCapture(temp.dir, server.url, ['accounts'], { snapshotPageRows: 500 });
    try {
      await until('the snapshot done', async () => capture.source.status().phase === 'streaming', 120_000);
      const more = writer.committed + 200;
      await until('writes after the snapshot', async () => writer.committed > more, 60_000);
      await writer.stop();
      const rows = await accountRows(server.url);
      const changes = await until(
        'the topic to hold the table',
        async () => {
          const c = await readChanges(capture.bus, capture.registry, 'shop.public.accounts');
          return tableOf(c).size === rows.size ? c : undefined;
        },
        60_000,
      );
      checkAccounts(changes, rows);
    } finally {
      await writer.stop();
      await capture.close();
    }
  }, 240_000);

  it('survives a PostgreSQL restart mid-stream without losing or repeating a change', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    console.log(`restart seed ${seed}`);
    await sql(server.url, 'DROP TABLE IF EXISTS accounts');
    await seedAccounts(server.url, 100);
    const capture = await startCapture(temp.dir, server.url, ['accounts'], {
      slot: 'kappa_restart',
      publication: 'kappa_restart',
    });
    const writer = startWriter(server.url, seed, 101);
    try {
      await until('streaming', async () => capture.source.status().phase === 'streaming');
      await until('writes', async () => writer.committed > 100);
      await server.restart();
      const after = writer.committed + 100;
      await until('writes after the restart', async () => writer.committed > after, 60_000);
      await until('streaming again', async () => capture.source.status().phase === 'streaming', 60_000);
      await writer.stop();
      const rows = await accountRows(server.url);
      const changes = await until(
        'the topic to hold the table',
        async () => {
          const c = await readChanges(capture.bus, capture.registry, 'shop.public.accounts');
          const t = tableOf(c);
          return t.size === rows.size &&
            [...rows].every(([k, r]) => JSON.stringify(t.get(k)) === JSON.stringify(r))
            ? c
            : undefined;
        },
        60_000,
      );
      checkAccounts(changes, rows);
    } finally {
      await writer.stop();
      await capture.close();
    }
  }, 240_000);
});
