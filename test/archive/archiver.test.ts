import { afterAll, describe, expect, it } from 'vitest';
import {
  ArchiveCorruptError,
  ArchiveFormatError,
  Archiver,
  manifestKey,
  ParquetFiles,
  readArchivedPartition,
  readManifest,
} from '../../src/archive/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { Metrics } from '../../src/ops/index.ts';
import type { ObjectStore } from '../../src/storage/index.ts';
import { sample } from '../support/prometheus-text.ts';
import { seededRandom } from '../support/random.ts';
import { objectStores } from '../support/s3.ts';
import { tempDir } from '../support/temp-dir.ts';
import { expectSameRecords, readArchive, readTopic } from './archive-helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(store: () => Promise<ObjectStore>) {
  const { dir, remove } = await tempDir('kappa-archive-');
  const bus = await openEmbeddedBus({ dataDir: `${dir}/data` });
  const files = new ParquetFiles();
  const objects = await store();
  cleanups.push(async () => {
    await files.close();
    await objects.close();
    await bus.close();
    await remove();
  });
  return { bus, files, store: objects, dir };
}

async function produce(bus: Bus, topic: string, n: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const producer = bus.producer();
  for (let i = 0; i < n; i += 500)
    await producer.send(
      Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
        topic,
        key: random() < 0.1 ? null : Buffer.from(`k${Math.floor(random() * 100)}`),
        value: random() < 0.05 ? null : Buffer.from(`v${i + j}`.repeat(1 + Math.floor(random() * 20))),
        headers: (random() < 0.3
          ? { trace: Buffer.from(String(i + j)), empty: Buffer.alloc(0) }
          : {}) as Record<string, Buffer>,
        timestamp: 1_750_000_000_000 + (i + j) * 1000,
      })),
    );
  await producer.close();
}

function suite(name: string, store: () => Promise<ObjectStore>) {
  describe(`archiver on ${name}`, () => {
    it('copies a topic in rounds: the archive equals the log, every offset once', async () => {
      const seed = Date.now();
      console.log(`archiver seed ${seed}`);
      const { bus, files, store: objects } = await setup(store);
      await bus.createTopic('events', { partitions: 3 });
      const archiver = new Archiver({
        bus,
        store: objects,
        files,
        topics: ['events', 'absent'],
        everyMs: 60_000,
        maxFileRecords: 700,
      });
      const metrics = new Metrics().start();
      await produce(bus, 'events', 2000, seed);
      await archiver.archiveOnce();
      await produce(bus, 'events', 1000, seed + 1);
      await archiver.archiveOnce();
      await archiver.archiveOnce(); // nothing new: nothing written
      expectSameRecords(await readArchive(objects, files, 'events'), await readTopic(bus, 'events'));
      // Every file the manifests list was counted once, with its records and bytes.
      const listed = (await Promise.all([0, 1, 2].map((p) => readManifest(objects, 'events', p)))).flatMap(
        (m) => m!.files,
      );
      const text = await metrics.text();
      metrics.stop();
      expect(sample(text, 'kappa_archive_records_total', { topic: 'events' })).toBe(3000);
      expect(sample(text, 'kappa_archive_files_total', { topic: 'events' })).toBe(listed.length);
      expect(sample(text, 'kappa_archive_bytes_total', { topic: 'events' })).toBe(
        listed.reduce((n, f) => n + f.bytes, 0),
      );
      const manifest = (await readManifest(objects, 'events', 0))!;
      expect(manifest.files.length).toBeGreaterThan(1);
      expect(manifest.files[0]!.key).toMatch(/^events\/dt=2025-06-15\/hour=\d\d\/0-0-\d+\.parquet$/);
      // A restarted archiver goes on from the manifest.
      await produce(bus, 'events', 300, seed + 2);
      await new Archiver({ bus, store: objects, files, topics: ['events'], everyMs: 60_000 }).archiveOnce();
      expectSameRecords(await readArchive(objects, files, 'events'), await readTopic(bus, 'events'));
    });

    it('finishes a file a failure left pending, without writing its records twice', async () => {
      const { bus, files, store: objects } = await setup(store);
      await bus.createTopic('pending', { partitions: 1 });
      await produce(bus, 'pending', 400, 7);
      // The file's put fails after the manifest named it: what a crash between the two leaves.
      const failingStore = new Proxy(objects, {
        get(target, prop) {
          if (prop === 'put')
            return (key: string, body: Buffer) =>
              key.endsWith('.parquet') ? Promise.reject(new Error('disk gone')) : target.put(key, body);
          const value = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      await expect(
        new Archiver({ bus, store: failingStore, files, topics: ['pending'], everyMs: 60_000 }).archiveOnce(),
      ).rejects.toThrow('disk gone');
      expect((await readManifest(objects, 'pending', 0))!.pending).toMatchObject({ first: 0, last: 399 });
      await produce(bus, 'pending', 100, 8);
      await new Archiver({ bus, store: objects, files, topics: ['pending'], everyMs: 60_000 }).archiveOnce();
      const manifest = (await readManifest(objects, 'pending', 0))!;
      expect(manifest.files.map((f) => [f.first, f.last])).toEqual([
        [0, 399],
        [400, 499],
      ]);
      expectSameRecords(await readArchive(objects, files, 'pending'), await readTopic(bus, 'pending'));
    });

    it('refuses hostile archives by name: corrupt and truncated files, a newer format, a lost manifest', async () => {
      const { bus, files, store: objects } = await setup(store);
      await bus.createTopic('hostile', { partitions: 1 });
      await produce(bus, 'hostile', 300, 9);
      const archiver = new Archiver({
        bus,
        store: objects,
        files,
        topics: ['hostile'],
        everyMs: 60_000,
        maxFileRecords: 100,
      });
      await archiver.archiveOnce();
      const manifest = (await readManifest(objects, 'hostile', 0))!;
      const [a, b, c] = manifest.files;
      const body = await objects.get(b!.key);
      await objects.put(b!.key, body.subarray(0, Math.floor(body.length / 2)));
      await objects.put(c!.key, Buffer.from('not parquet at all'));
      const read = async (skipCorrupt: boolean) => {
        const out: number[] = [];
        const skipped: string[] = [];
        for await (const batch of readArchivedPartition(objects, files, manifest, {
          skipCorrupt,
          onSkipped: (f) => skipped.push(f.key),
        }))
          out.push(...batch.map((r) => r.offset));
        return { out, skipped };
      };
      const error = await read(false).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArchiveCorruptError);
      expect((error as ArchiveCorruptError).code).toBe('KAPPA_ARCHIVE_CORRUPT');
      expect((error as Error).message).toContain(b!.key);
      const { out, skipped } = await read(true);
      expect(out).toEqual(Array.from({ length: a!.records }, (_, i) => i));
      expect(skipped).toEqual([b!.key, c!.key]);
      // A file put in place of another (another range) is not what the manifest says.
      await objects.put(b!.key, await objects.get(a!.key));
      await expect(read(false)).rejects.toThrow(/manifest says 100 \(100\.\.199\)/);

      // A manifest of a newer archive format is refused, also by the archiver, and not overwritten.
      const newer = { ...manifest, format: 99 };
      await objects.put(manifestKey('hostile', 0), Buffer.from(JSON.stringify(newer)));
      await expect(readManifest(objects, 'hostile', 0)).rejects.toThrow(ArchiveFormatError);
      await expect(
        new Archiver({ bus, store: objects, files, topics: ['hostile'], everyMs: 60_000 }).archiveOnce(),
      ).rejects.toThrow(/archive format 99; this Kappa reads format 1/);
      expect(JSON.parse((await objects.get(manifestKey('hostile', 0))).toString()).format).toBe(99);
      await objects.put(manifestKey('hostile', 0), Buffer.from('{"format": 1, "topic": '));
      await expect(readManifest(objects, 'hostile', 0)).rejects.toThrow(/not an archive manifest/);

      // A lost manifest: archiving again would write the files' records twice, so it is refused.
      await objects.delete(manifestKey('hostile', 0));
      await expect(
        new Archiver({ bus, store: objects, files, topics: ['hostile'], everyMs: 60_000 }).archiveOnce(),
      ).rejects.toThrow(/missing, while 3 archive files of hostile partition 0 are there/);
      expect(await objects.head(manifestKey('hostile', 0))).toBeNull();
    });
  });
}

for (const [name, open] of objectStores()) suite(name, open);
