import { type ConsumedRecord, type Logger, silentLogger, UnknownTopicError } from '../core/index.ts';
import { type Bus, readRange } from '../log/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { ArchiveFormatError } from './archive-errors.ts';
import { archived } from './archive-events.ts';
import {
  type ArchivedFile,
  emptyManifest,
  fileKey,
  manifestKey,
  type PartitionManifest,
  readManifest,
  writeManifest,
} from './manifest.ts';
import type { ParquetFiles } from './parquet-file.ts';

export interface ArchiverOptions {
  bus: Bus;
  store: ObjectStore;
  files: ParquetFiles;
  /** Topics to copy; one that does not exist (yet) is skipped until it does. */
  topics: string[];
  /** How often each partition's new records become a file. */
  everyMs: number;
  /** A file holds at most this many records (default 200,000)… */
  maxFileRecords?: number;
  /** …and about this many bytes of keys and values (default 64 MiB). */
  maxFileBytes?: number;
  logger?: Logger;
}

/** Partitions archived at once (ParquetFiles encodes as many files at once by default). */
const PARALLEL_PARTITIONS = 2;

/**
 * Copies topics into the object store, one Parquet file per partition per round, exactly once.
 *
 * The manifest is the archive's truth, and each file goes through it twice: named as `pending`
 * (with its exact offset range) before it is put, then moved to `files` after. A crash between the
 * two leaves a pending file that the next start finishes — it puts the same range again if the put
 * never happened — so no record is archived twice and none is skipped. One process archives a topic
 * (the one `kappa up` whose config names it).
 */
export class Archiver {
  readonly #o: ArchiverOptions;
  readonly #logger: Logger;
  readonly #manifests = new Map<string, PartitionManifest>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: ArchiverOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  start(): void {
    const round = () => {
      this.#running = this.archiveOnce()
        .catch((error: Error) => {
          this.#logger.warn({ err: error }, 'archive round failed; it is tried again');
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(round, this.#o.everyMs);
        });
    };
    round();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One round: every partition of every topic archived up to its end as the round began. */
  async archiveOnce(): Promise<void> {
    // A partition that fails (its manifest unreadable, the store down) does not hold the others up.
    const failures: Error[] = [];
    for (const topic of this.#o.topics) {
      let ranges: Awaited<ReturnType<Bus['partitionOffsets']>>;
      try {
        ranges = await this.#o.bus.partitionOffsets(topic);
      } catch (error) {
        if (error instanceof UnknownTopicError) continue;
        throw error;
      }
      // Partitions a few at a time: each has its own manifest, and a worker thread encodes one
      // partition's file while the next is being read and handed over.
      const queue = [...ranges];
      const worker = async () => {
        for (let range = queue.shift(); range && !this.#stopped; range = queue.shift())
          await this.#archivePartition(topic, range.partition, range.start, range.end).catch((error: Error) =>
            failures.push(error),
          );
      };
      await Promise.all(Array.from({ length: PARALLEL_PARTITIONS }, worker));
      if (this.#stopped) return;
    }
    if (failures.length > 0) throw failures[0];
  }

  async #archivePartition(topic: string, partition: number, start: number, end: number): Promise<void> {
    const id = `${topic}/${partition}`;
    let manifest = this.#manifests.get(id);
    if (!manifest) {
      manifest =
        (await readManifest(this.#o.store, topic, partition)) ?? (await this.#fresh(topic, partition));
      this.#manifests.set(id, manifest);
    }
    if (manifest.pending) manifest = await this.#finishPending(manifest);
    while (manifest.next < end && !this.#stopped) {
      if (manifest.next < start) {
        // Deleted by retention before it was archived: nothing can bring it back; say so once.
        this.#logger.warn(
          { topic, partition, from: manifest.next, to: start },
          'records were deleted from the log before they were archived',
        );
        manifest = { ...manifest, gaps: [...manifest.gaps, { from: manifest.next, to: start }], next: start };
      }
      const { records, position } = await this.#read(topic, partition, manifest.next, end);
      if (records.length > 0) manifest = await this.#put(manifest, records);
      else if (position > manifest.next) {
        // Only transaction markers or compacted-away offsets up to there.
        manifest = { ...manifest, next: position };
        await this.#save(manifest);
      } else break;
    }
  }

  /**
   * A partition with no manifest starts from nothing, unless the store holds files of it: then the
   * manifest was lost, and archiving anew would write those records twice.
   */
  async #fresh(topic: string, partition: number): Promise<PartitionManifest> {
    const orphans = (await this.#o.store.list(`${topic}/dt=`)).filter(
      (o) => /\/(\d+)-\d+-\d+\.parquet$/.exec(o.key)?.[1] === String(partition),
    );
    if (orphans.length > 0)
      throw new ArchiveFormatError(
        manifestKey(topic, partition),
        `missing, while ${orphans.length} archive files of ${topic} partition ${partition} are there (${orphans[0]!.key}…): restore the manifest, or move those files away to archive the partition anew`,
      );
    return emptyManifest(topic, partition);
  }

  /** A file named in the manifest before a crash: adopted if it was put, else put again. */
  async #finishPending(manifest: PartitionManifest): Promise<PartitionManifest> {
    const pending = manifest.pending!;
    const stored = await this.#o.store.head(pending.key);
    if (stored) return this.#commit(manifest, { ...pending, bytes: stored.size });
    const { records } = await this.#read(manifest.topic, manifest.partition, pending.first, pending.last + 1);
    if (
      records.length === 0 ||
      records[0]!.offset !== pending.first ||
      records.at(-1)!.offset !== pending.last
    ) {
      // The log no longer holds that range as it was (retention ran meanwhile): archive what it holds.
      const undone = { ...manifest, pending: null };
      await this.#save(undone);
      return undone;
    }
    return this.#put({ ...manifest, pending: null }, records);
  }

  async #put(manifest: PartitionManifest, records: ConsumedRecord[]): Promise<PartitionManifest> {
    const first = records[0]!;
    const last = records.at(-1)!;
    let minTimestamp = first.timestamp;
    let maxTimestamp = first.timestamp;
    for (const r of records) {
      if (r.timestamp < minTimestamp) minTimestamp = r.timestamp;
      if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    }
    const file: ArchivedFile = {
      key: fileKey(manifest.topic, manifest.partition, first.offset, last.offset, first.timestamp),
      first: first.offset,
      last: last.offset,
      records: records.length,
      bytes: 0,
      minTimestamp,
      maxTimestamp,
    };
    const pending = { ...manifest, pending: file };
    await this.#save(pending);
    const body = await this.#o.files.write(records);
    await this.#o.store.put(file.key, body);
    return this.#commit(pending, { ...file, bytes: body.length });
  }

  async #commit(manifest: PartitionManifest, file: ArchivedFile): Promise<PartitionManifest> {
    const done = {
      ...manifest,
      files: [...manifest.files, file],
      pending: null,
      next: Math.max(manifest.next, file.last + 1),
    };
    await this.#save(done);
    if (archived.hasSubscribers)
      archived.publish({
        topic: manifest.topic,
        partition: manifest.partition,
        records: file.records,
        bytes: file.bytes,
      });
    this.#logger.debug({ key: file.key, records: file.records, bytes: file.bytes }, 'archived');
    return done;
  }

  async #save(manifest: PartitionManifest): Promise<void> {
    await writeManifest(this.#o.store, manifest);
    this.#manifests.set(`${manifest.topic}/${manifest.partition}`, manifest);
  }

  /** Committed records from `from` up to (not including) `end`, at most one file's worth. */
  async #read(
    topic: string,
    partition: number,
    from: number,
    end: number,
  ): Promise<{ records: ConsumedRecord[]; position: number }> {
    const maxRecords = this.#o.maxFileRecords ?? 200_000;
    const maxBytes = this.#o.maxFileBytes ?? 64 * 1024 * 1024;
    const records: ConsumedRecord[] = [];
    let bytes = 0;
    let position = from;
    for await (const batch of readRange(this.#o.bus, topic, partition, from, end)) {
      position = batch.position;
      for (const r of batch.records.slice(0, maxRecords - records.length)) {
        records.push(r);
        bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
      }
      if (records.length >= maxRecords || bytes >= maxBytes) break;
    }
    // What was read past the last record kept (a full file stops mid-batch) is read again next time.
    if (records.length > 0) position = records.at(-1)!.offset + 1;
    return { records, position };
  }
}
