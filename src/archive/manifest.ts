import { z } from 'zod';
import { ObjectNotFoundError, type ObjectStore } from '../storage/index.ts';
import { ArchiveFormatError } from './archive-errors.ts';

/** The archive format this Kappa writes and the newest it reads. Bumped by any change of layout. */
export const ARCHIVE_FORMAT = 1;

/** An archive file's `created_by` when this Kappa's writer laid it out (parquet-encode.ts). */
export const ARCHIVE_WRITER = 'kappa archive';

const archivedFile = z.object({
  key: z.string(),
  /** Offsets of the first and last record in the file; the file holds every stored record between. */
  first: z.number().int().nonnegative(),
  last: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  minTimestamp: z.number(),
  maxTimestamp: z.number(),
});

export type ArchivedFile = z.infer<typeof archivedFile>;

const partitionManifest = z.object({
  format: z.number().int(),
  topic: z.string(),
  partition: z.number().int().nonnegative(),
  /** The next offset to archive: every stored record below it is in `files`, once. */
  next: z.number().int().nonnegative(),
  files: z.array(archivedFile),
  /**
   * The file being written: named here before it is put, so that after a crash the archiver knows
   * its exact range (it may or may not be in the store) and finishes it rather than writing records
   * twice or leaving an orphan.
   */
  pending: archivedFile.nullable(),
  /** Offset ranges the log had deleted (retention) before they were archived: history lost, said. */
  gaps: z.array(z.object({ from: z.number().int(), to: z.number().int() })),
});

export type PartitionManifest = z.infer<typeof partitionManifest>;

/**
 * Where things are in the object store:
 * `<topic>/dt=YYYY-MM-DD/hour=HH/<partition>-<first offset>-<last offset>.parquet`, placed by the
 * first record's timestamp (UTC), and one manifest per partition, `<topic>/_manifest/<partition>.json`.
 */
export function fileKey(topic: string, partition: number, first: number, last: number, timestamp: number) {
  const iso = new Date(Number.isFinite(timestamp) && timestamp >= 0 ? timestamp : 0).toISOString();
  return `${topic}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${partition}-${first}-${last}.parquet`;
}

export function manifestKey(topic: string, partition: number): string {
  return `${topic}/_manifest/${partition}.json`;
}

/** Refuses what a newer Kappa wrote: read as this format, it would be misread. */
export function checkFormat(key: string, format: number): void {
  if (format > ARCHIVE_FORMAT)
    throw new ArchiveFormatError(
      key,
      `written in archive format ${format}; this Kappa reads format ${ARCHIVE_FORMAT} and older: upgrade Kappa`,
    );
}

export function emptyManifest(topic: string, partition: number): PartitionManifest {
  return { format: ARCHIVE_FORMAT, topic, partition, next: 0, files: [], pending: null, gaps: [] };
}

/** A partition's manifest, or null when nothing of it was archived yet. */
export async function readManifest(
  store: ObjectStore,
  topic: string,
  partition: number,
): Promise<PartitionManifest | null> {
  const key = manifestKey(topic, partition);
  let body: Buffer;
  try {
    body = await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ArchiveFormatError(key, 'not JSON: not an archive manifest');
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'number') checkFormat(key, format);
  const parsed = partitionManifest.safeParse(json);
  if (!parsed.success || parsed.data.topic !== topic || parsed.data.partition !== partition)
    throw new ArchiveFormatError(
      key,
      `not a manifest of ${topic} partition ${partition}${parsed.success ? '' : `: ${parsed.error.issues[0]?.message}`}`,
    );
  return parsed.data;
}

export async function writeManifest(store: ObjectStore, manifest: PartitionManifest): Promise<void> {
  await store.put(
    manifestKey(manifest.topic, manifest.partition),
    Buffer.from(JSON.stringify(manifest), 'utf8'),
  );
}

/** The partitions of a topic that have a manifest, from the store's listing. */
export async function archivedPartitions(store: ObjectStore, topic: string): Promise<number[]> {
  const listed = await store.list(`${topic}/_manifest/`);
  return listed
    .map((o) => /\/(\d+)\.json$/.exec(o.key)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
