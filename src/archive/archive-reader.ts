import type { ConsumedRecord, Logger } from '../core/index.ts';
import { silentLogger } from '../core/index.ts';
import { ObjectNotFoundError, type ObjectStore } from '../storage/index.ts';
import { ArchiveCorruptError } from './archive-errors.ts';
import type { ArchivedFile, PartitionManifest } from './manifest.ts';
import type { ParquetFiles } from './parquet-file.ts';

export interface ArchiveReadOptions {
  /** First offset wanted (default the archive's first). */
  from?: number;
  /** Offsets below this (default all archived). */
  to?: number;
  /** Go on past an unreadable file (reported to `onSkipped`) instead of failing with its name. */
  skipCorrupt?: boolean;
  onSkipped?: (file: ArchivedFile, error: Error) => void;
  logger?: Logger;
}

/**
 * A partition's archived records in offset order, a file at a time, from its manifest. A file the
 * manifest names but the store lacks, or one that does not hold what the manifest says, is corrupt.
 */
export async function* readArchivedPartition(
  store: ObjectStore,
  files: ParquetFiles,
  manifest: PartitionManifest,
  options: ArchiveReadOptions = {},
): AsyncGenerator<ConsumedRecord[]> {
  const from = options.from ?? 0;
  const to = options.to ?? manifest.next;
  const logger = options.logger ?? silentLogger;
  for (const file of manifest.files) {
    if (file.last < from || file.first >= to) continue;
    let records: ConsumedRecord[];
    try {
      records = await readFile(store, files, file);
    } catch (error) {
      if (!(error instanceof ArchiveCorruptError) || !options.skipCorrupt) throw error;
      logger.warn({ key: file.key, err: error }, 'skipped an unreadable archive file');
      options.onSkipped?.(file, error);
      continue;
    }
    const wanted = records.filter((r) => r.offset >= from && r.offset < to);
    if (wanted.length > 0) yield wanted;
  }
}

async function readFile(store: ObjectStore, files: ParquetFiles, file: ArchivedFile) {
  let body: Buffer;
  try {
    body = await store.get(file.key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError)
      throw new ArchiveCorruptError(file.key, 'named in the manifest but not in the store');
    throw error;
  }
  const records = await files.read(file.key, body);
  if (
    records.length !== file.records ||
    records[0]?.offset !== file.first ||
    records.at(-1)?.offset !== file.last
  )
    throw new ArchiveCorruptError(
      file.key,
      `holds ${records.length} records (${records[0]?.offset}..${records.at(-1)?.offset}), the manifest says ${file.records} (${file.first}..${file.last})`,
    );
  return records;
}
