import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archiver, ParquetFiles, readManifest } from '../../src/archive/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { FolderStore } from '../../src/storage/index.ts';
import { run } from '../cli/cli-helpers.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { readTopic } from './archive-helpers.ts';

const PARTITIONS = 2;

/** 1,000 records archived, the log's head then deleted (retention), 500 more only in the log. */
async function history(data: string): Promise<Map<number, string[]>> {
  const bus = await openEmbeddedBus({ dataDir: data });
  const store = await FolderStore.open(path.join(data, 'archive'));
  const files = new ParquetFiles();
  const produced = new Map<number, string[]>();
  const produce = async (b: Bus, from: number, n: number) => {
    const producer = b.producer();
    const sent = await producer.send(
      Array.from({ length: n }, (_, i) => ({
        topic: 'events',
        partition: (from + i) % PARTITIONS,
        key: Buffer.from(`k${(from + i) % 7}`),
        value: Buffer.from(`v${from + i}`),
        headers: { n: Buffer.from(String(from + i)) },
        timestamp: 1_800_000_000_000 + (from + i) * 1000,
      })),
    );
    for (const [i, m] of sent.entries())
      produced.set(m.partition, [...(produced.get(m.partition) ?? []), `v${from + i}`]);
    await producer.close();
  };
  try {
    await bus.createTopic('events', { partitions: PARTITIONS });
    await produce(bus, 0, 1000);
    await new Archiver({
      bus,
      store,
      files,
      topics: ['events'],
      everyMs: 60_000,
      maxFileRecords: 150,
    }).archiveOnce();
    await bus.deleteRecords('events', [
      { partition: 0, offset: 400 },
      { partition: 1, offset: 300 },
    ]);
    await produce(bus, 1000, 500);
  } finally {
    await files.close();
    await store.close();
    await bus.close();
  }
  return produced;
}

describe('kappa replay', () => {
  const temp = useTempDir('each');

  it('streams the archive, then the log, across the seam: what retention deleted comes back, nothing twice', async () => {
    const data = path.join(temp.dir, 'data');
    const produced = await history(data);
    const replayed = await run(['replay', 'events', '--into', 'copy', '--data-dir', data], '', {
      cwd: temp.dir,
    });
    expect(replayed.stderr).toMatch(/replay events: 1500 records of 1500 \(100%\)/);
    expect(replayed.code).toBe(0);
    const bus = await openEmbeddedBus({ dataDir: data });
    try {
      const copy = await readTopic(bus, 'copy');
      for (let p = 0; p < PARTITIONS; p++) {
        expect(copy.get(p)!.map((r) => r.value!.toString())).toEqual(produced.get(p));
        expect(copy.get(p)!.every((r) => r.headers.n!.toString() === r.value!.toString().slice(1))).toBe(
          true,
        );
      }
    } finally {
      await bus.close();
    }

    // Offsets: the same range of every partition, half of it in the archive, half in the log only.
    const ranged = await run(['replay', 'events', '--from', '450', '--to', '600', '--data-dir', data], '', {
      cwd: temp.dir,
    });
    expect(ranged.code).toBe(0);
    const lines = ranged.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (let p = 0; p < PARTITIONS; p++)
      expect(lines.filter((l) => l.partition === p).map((l) => l.offset)).toEqual(
        Array.from({ length: 150 }, (_, i) => 450 + i),
      );
    // Times: records 100..199 by timestamp.
    const timed = await run(
      [
        'replay',
        'events',
        '--from',
        new Date(1_800_000_000_000 + 100_000).toISOString(),
        '--to',
        new Date(1_800_000_000_000 + 200_000).toISOString(),
        '--data-dir',
        data,
      ],
      '',
      { cwd: temp.dir },
    );
    expect(
      timed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).value)
        .sort(),
    ).toEqual(Array.from({ length: 100 }, (_, i) => `v${100 + i}`).sort());
    const bad = await run(['replay', 'events', '--from', 'yesterday-ish', '--data-dir', data], '', {
      cwd: temp.dir,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--from takes an offset (digits) or a time');
  });

  it('names a corrupt archive file and stops, or skips it with --skip-corrupt and says what is missing', async () => {
    const data = path.join(temp.dir, 'data');
    await history(data);
    const store = await FolderStore.open(path.join(data, 'archive'));
    const manifest = (await readManifest(store, 'events', 0))!;
    const victim = manifest.files[1]!;
    const body = await store.get(victim.key);
    await store.put(victim.key, body.subarray(0, body.length - 100));
    await store.close();
    const stopped = await run(['replay', 'events', '--data-dir', data], '', { cwd: temp.dir });
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toContain(`Archive file ${victim.key} is unreadable`);
    const skipped = await run(['replay', 'events', '--skip-corrupt', '--data-dir', data], '', {
      cwd: temp.dir,
    });
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toContain(
      `Skipped unreadable archive file ${victim.key} (offsets ${victim.first}..${victim.last})`,
    );
    const offsets = skipped.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.partition === 0)
      .map((l) => l.offset);
    expect(offsets).toHaveLength(750 - victim.records);
    expect(offsets.some((o) => o >= victim.first && o <= victim.last)).toBe(false);
  });
});
