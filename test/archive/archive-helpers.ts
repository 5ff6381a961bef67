import { expect } from 'vitest';
import {
  archivedPartitions,
  type ParquetFiles,
  readArchivedPartition,
  readManifest,
} from '../../src/archive/index.ts';
import type { ConsumedRecord } from '../../src/core/index.ts';
import { type Bus, readRange } from '../../src/log/index.ts';
import type { ObjectStore } from '../../src/storage/index.ts';

/** Every record of a topic as stored in the log, per partition, in offset order. */
export async function readTopic(bus: Bus, topic: string): Promise<Map<number, ConsumedRecord[]>> {
  const out = new Map<number, ConsumedRecord[]>();
  for (const range of await bus.partitionOffsets(topic)) {
    const records: ConsumedRecord[] = [];
    for await (const batch of readRange(bus, topic, range.partition, range.start, range.end))
      records.push(...batch.records);
    out.set(range.partition, records);
  }
  return out;
}

/** Every archived record of a topic, per partition, checking the files tile the offsets (no overlap). */
export async function readArchive(
  store: ObjectStore,
  files: ParquetFiles,
  topic: string,
): Promise<Map<number, ConsumedRecord[]>> {
  const out = new Map<number, ConsumedRecord[]>();
  for (const partition of await archivedPartitions(store, topic)) {
    const manifest = (await readManifest(store, topic, partition))!;
    expect(manifest.pending).toBeNull();
    for (let i = 1; i < manifest.files.length; i++)
      expect(manifest.files[i]!.first).toBeGreaterThan(manifest.files[i - 1]!.last);
    const records: ConsumedRecord[] = [];
    for await (const batch of readArchivedPartition(store, files, manifest)) records.push(...batch);
    out.set(partition, records);
  }
  return out;
}

/** The archive equals the log: every offset once, every field the same. */
export function expectSameRecords(
  archived: Map<number, ConsumedRecord[]>,
  logged: Map<number, ConsumedRecord[]>,
): void {
  const text = (m: Map<number, ConsumedRecord[]>) =>
    [...m.entries()]
      .filter(([, records]) => records.length > 0)
      .sort(([a], [b]) => a - b)
      .map(([p, records]) => [
        p,
        records.map((r) => [
          r.offset,
          r.timestamp,
          r.key?.toString('base64') ?? null,
          r.value?.toString('base64') ?? null,
          Object.entries(r.headers).map(([k, v]) => [k, v.toString('base64')]),
        ]),
      ]);
  const a = text(archived);
  const l = text(logged);
  expect(a.map(([p, r]) => [p, (r as unknown[]).length])).toEqual(
    l.map(([p, r]) => [p, (r as unknown[]).length]),
  );
  expect(a).toEqual(l);
}
