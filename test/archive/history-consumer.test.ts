import { afterAll, describe, expect, it } from 'vitest';
import { Archiver, historyConsumer, ParquetFiles } from '../../src/archive/index.ts';
import type { ConsumedRecord } from '../../src/core/index.ts';
import { type Consumer, openEmbeddedBus } from '../../src/log/index.ts';
import { FolderStore } from '../../src/storage/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { readTopic } from './archive-helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup() {
  const { dir, remove } = await tempDir('kappa-history-consumer-');
  const bus = await openEmbeddedBus({ dataDir: `${dir}/data` });
  const files = new ParquetFiles();
  const store = await FolderStore.open(`${dir}/archive`);
  cleanups.push(async () => {
    await files.close();
    await store.close();
    await bus.close();
    await remove();
  });
  await bus.createTopic('events', { partitions: 2 });
  const archiver = new Archiver({
    bus,
    store,
    files,
    topics: ['events'],
    everyMs: 60_000,
    maxFileRecords: 300,
  });
  let n = 0;
  const produce = async (count: number) => {
    const producer = bus.producer();
    await producer.send(
      Array.from({ length: count }, () => ({
        topic: 'events',
        key: Buffer.from(`k${n % 13}`),
        value: Buffer.from(`v${n++}`),
      })),
    );
    await producer.close();
  };
  /** What the log holds now, by partition and offset: what a reader must get once deleted. */
  const seen = new Map<string, string>();
  const remember = async () => {
    for (const [partition, records] of await readTopic(bus, 'events'))
      for (const r of records) seen.set(`${partition}:${r.offset}`, r.value!.toString());
  };
  /** Retention's part, by hand: each partition loses everything below `share` of its end. */
  const deleteHead = async (share: number) => {
    await remember();
    const ranges = await bus.partitionOffsets('events');
    await bus.deleteRecords(
      'events',
      ranges.map((r) => ({ partition: r.partition, offset: Math.floor(r.end * share) })),
    );
  };
  const consumer = () => historyConsumer({ group: 'g' }, { bus, store, files });
  return { bus, archiver, produce, deleteHead, remember, seen, consumer };
}

/** Polls until `count` records came, checking each partition's offsets are consecutive from `next`. */
async function pollAll(consumer: Consumer, got: ConsumedRecord[], count: number): Promise<void> {
  for (let i = 0; got.length < count; i++) {
    if (i > 1000) throw new Error(`only ${got.length} of ${count} records came`);
    got.push(...(await consumer.poll({ maxRecords: 100, timeoutMs: 50 })));
  }
}

function expectEveryOffsetOnce(got: ConsumedRecord[], seen: Map<string, string>) {
  const byPartition = new Map<number, number[]>();
  for (const r of got) {
    expect(r.value?.toString(), `${r.partition}:${r.offset}`).toBe(seen.get(`${r.partition}:${r.offset}`));
    byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
  }
  for (const [, offsets] of byPartition) expect(offsets).toEqual(offsets.map((_, i) => i));
  expect(got.length).toBe(seen.size);
}

describe('historyConsumer', () => {
  it('reads what the log deleted from the archive, then the log, every offset once', async () => {
    const { archiver, produce, deleteHead, remember, seen, consumer } = await setup();
    await produce(2000);
    await archiver.archiveOnce();
    await deleteHead(0.5);
    const c = consumer();
    await c.subscribe(['events']);
    const got: ConsumedRecord[] = [];
    await pollAll(c, got, 300);
    // It falls behind: retention deletes past where it is, after the archiver copied it all.
    await produce(1000);
    await archiver.archiveOnce();
    await deleteHead(0.9);
    await remember();
    await pollAll(c, got, seen.size);
    expectEveryOffsetOnce(got, seen);
    await c.close();
  });

  it('resumes from the offset its group committed in the archive', async () => {
    const { bus, archiver, produce, deleteHead, remember, seen, consumer } = await setup();
    await produce(1500);
    await archiver.archiveOnce();
    await deleteHead(0.8);
    await remember();
    const first = consumer();
    await first.subscribe(['events']);
    const got: ConsumedRecord[] = [];
    await pollAll(first, got, 250);
    await first.commit();
    const committed = await bus.committedOffsets('g', 'events');
    expect(committed.length).toBe(2);
    await first.close();
    const second = consumer();
    await second.subscribe(['events']);
    // What came after the commit is read again by the next member: keep only the committed prefix.
    const kept = got.filter((r) => r.offset < committed.find((c) => c.partition === r.partition)!.offset);
    await pollAll(second, kept, seen.size);
    expectEveryOffsetOnce(kept, seen);
    await second.close();
  });
});
