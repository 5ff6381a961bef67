import { afterAll, describe, expect, it } from 'vitest';
import {
  ArchiveCorruptError,
  Archiver,
  manifestKey,
  ParquetFiles,
  readManifest,
} from '../../src/archive/index.ts';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { ArchiveTables, QueryInvalidError, QueryRefusedError } from '../../src/serve/index.ts';
import type { ObjectStore } from '../../src/storage/index.ts';
import { objectStores } from '../support/s3.ts';
import { tempDir } from '../support/temp-dir.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const Q = { maxRows: 1000, timeoutMs: 10_000 };

async function setup(store: () => Promise<ObjectStore>, maxCacheBytes?: number) {
  const { dir, remove } = await tempDir('kappa-archive-sql-');
  const bus = await openEmbeddedBus({ dataDir: `${dir}/data` });
  const files = new ParquetFiles();
  const objects = await store();
  await bus.createTopic('events', { partitions: 3 });
  await bus.createTopic('dead-letters', { partitions: 1 });
  const archiver = new Archiver({
    bus,
    store: objects,
    files,
    topics: ['events', 'dead-letters'],
    everyMs: 60_000,
    maxFileRecords: 200,
  });
  const tables = await ArchiveTables.open({
    store: objects,
    topics: ['events', 'dead-letters'],
    cacheDir: `${dir}/cache`,
    ...(maxCacheBytes === undefined ? {} : { maxCacheBytes }),
  });
  cleanups.push(async () => {
    await tables.close();
    await files.close();
    await objects.close();
    await bus.close();
    await remove();
  });
  let n = 0;
  const produce = async (topic: string, count: number) => {
    const producer = bus.producer();
    await producer.send(
      Array.from({ length: count }, () => {
        const i = n++;
        return {
          topic,
          key: Buffer.from(`u${i % 5}`),
          value: i % 50 === 49 ? Buffer.from([0xff, 0xfe]) : Buffer.from(JSON.stringify({ n: i })),
          timestamp: Date.UTC(2026, 0, 1) + i * 60_000,
        };
      }),
    );
    await producer.close();
  };
  return { archiver, tables, produce, store: objects };
}

function suite(name: string, store: () => Promise<ObjectStore>) {
  describe(`SQL over the archive on ${name}`, () => {
    it('answers queries over archive."<topic>", and sees what is archived after', async () => {
      const { archiver, tables, produce } = await setup(store);
      const empty = await tables.query('SELECT count(*) FROM archive.events', Q);
      expect(empty.rows).toEqual([[0]]);
      await produce('events', 1000);
      await archiver.archiveOnce();
      const counted = await tables.query(
        `SELECT count(*), count(DISTINCT "partition"), sum(("value"::JSON->>'n')::BIGINT), count(*) FILTER (WHERE "value" IS NULL) FROM archive.events`,
        Q,
      );
      // Every 50th value is not UTF-8: its text is NULL, its bytes are there.
      const sum = Array.from({ length: 1000 }, (_, i) => (i % 50 === 49 ? 0 : i)).reduce((a, b) => a + b);
      expect(counted.rows).toEqual([[1000, 3, sum, 20]]);
      const byKey = await tables.query(
        `SELECT "key", count(*) FROM archive."events" WHERE "timestamp" < TIMESTAMP '2026-01-01 01:40:00' GROUP BY 1 ORDER BY 1`,
        Q,
      );
      expect(byKey.rows).toEqual(['u0', 'u1', 'u2', 'u3', 'u4'].map((k) => [k, 20]));
      await produce('events', 500);
      await archiver.archiveOnce();
      expect((await tables.query('SELECT count(*), max("offset") >= 0 FROM archive.events', Q)).rows).toEqual(
        [[1500, true]],
      );
      // The dead letters' table is there, empty until some are archived.
      expect((await tables.query('SELECT count(*) FROM archive."dead-letters"', Q)).rows).toEqual([[0]]);
    });

    it('refuses files, writes and settings, and names a damaged archive file', async () => {
      const { archiver, tables, produce, store: objects } = await setup(store);
      await produce('events', 600);
      await archiver.archiveOnce();
      for (const sql of [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        'CREATE TABLE archive.x (a INT)',
        "SET allowed_directories = ['/']",
        'SELECT 1; SELECT 2',
      ])
        await expect(tables.query(sql, Q), sql).rejects.toBeInstanceOf(QueryRefusedError);
      await expect(tables.query('SELECT nope FROM archive.events', Q)).rejects.toBeInstanceOf(
        QueryInvalidError,
      );
      // A truncated file: the query fails naming it, and answers again once it is whole.
      const manifest = (await readManifest(objects, 'events', 1))!;
      const file = manifest.files.at(-1)!;
      const whole = await objects.get(file.key);
      // Another ArchiveTables, with an empty cache, sees the damage.
      const fresh = await ArchiveTables.open({
        store: objects,
        topics: ['events'],
        cacheDir: `${(await tempDir('kappa-archive-sql-cache-')).dir}/cache`,
      });
      try {
        await objects.put(file.key, whole.subarray(0, whole.length - 10));
        const broken = await fresh.query('SELECT count(*) FROM archive.events', Q).catch((e: unknown) => e);
        expect(broken).toBeInstanceOf(ArchiveCorruptError);
        expect((broken as Error).message).toContain(file.key);
        await objects.put(file.key, whole);
        expect((await fresh.query('SELECT count(*) FROM archive.events', Q)).rows).toEqual([[600]]);
        // A hostile manifest naming a file outside the archive is refused, not followed.
        await objects.put(
          manifestKey('events', 1),
          Buffer.from(
            JSON.stringify({
              ...manifest,
              files: [...manifest.files, { ...file, key: '../../../outside.parquet' }],
            }),
          ),
        );
        const hostile = await fresh.query('SELECT count(*) FROM archive.events', Q).catch((e: unknown) => e);
        expect(hostile).toBeInstanceOf(ArchiveCorruptError);
        expect((hostile as Error).message).toContain('not an archive file name');
      } finally {
        await fresh.close();
      }
    });

    it('answers the same with a cache smaller than the archive', async () => {
      const { archiver, tables, produce } = await setup(store, 1);
      await produce('events', 800);
      await produce('dead-letters', 300);
      await archiver.archiveOnce();
      for (let i = 0; i < 2; i++) {
        expect((await tables.query('SELECT count(*) FROM archive.events', Q)).rows).toEqual([[800]]);
        expect((await tables.query('SELECT count(*) FROM archive."dead-letters"', Q)).rows).toEqual([[300]]);
      }
    });
  });
}

for (const [name, open] of objectStores()) suite(name, open);
