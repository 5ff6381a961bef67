import type { ConsumedRecord } from '../core/index.ts';
import { type Bus, readRange } from '../log/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { type ArchiveReadOptions, readArchivedPartition } from './archive-reader.ts';
import { readManifest } from './manifest.ts';
import type { ParquetFiles } from './parquet-file.ts';

export interface HistoryOptions extends Omit<ArchiveReadOptions, 'from' | 'to'> {
  bus: Bus;
  store: ObjectStore;
  files: ParquetFiles;
  topic: string;
  partition: number;
  /** First offset (default the oldest there is, in the archive or the log). */
  from?: number;
  /** Offsets below this; default the log's end when the read began. */
  to?: number;
  /** Offsets neither the archive nor the log holds (the log deleted them before they were archived). */
  onGap?: (gap: { from: number; to: number }) => void;
}

/**
 * A partition's whole history in offset order: the archive up to its manifest's `next`, then the log
 * from there. The seam is an offset, so nothing is read twice and nothing is skipped: below `next`
 * only the archive is read, from it only the log.
 */
export async function* readHistory(options: HistoryOptions): AsyncGenerator<ConsumedRecord[]> {
  const { bus, topic, partition } = options;
  const range = (await bus.partitionOffsets(topic)).find((r) => r.partition === partition);
  if (!range) return;
  const to = options.to ?? range.end;
  const manifest = await readManifest(options.store, topic, partition);
  let from = options.from ?? 0;
  if (manifest && from < manifest.next) {
    for (const gap of manifest.gaps)
      if (gap.to > from && gap.from < to)
        options.onGap?.({ from: Math.max(gap.from, from), to: Math.min(gap.to, to) });
    yield* readArchivedPartition(options.store, options.files, manifest, { ...options, from, to });
    from = manifest.next;
  }
  if (from >= to) return;
  if (from < range.start) {
    options.onGap?.({ from, to: Math.min(range.start, to) });
    from = range.start;
  }
  for await (const { records } of readRange(bus, topic, partition, from, to))
    if (records.length > 0) yield records;
}
