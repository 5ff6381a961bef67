import {
  type ConsumedRecord,
  type Logger,
  silentLogger,
  type TopicPartition,
  type TopicPartitionOffset,
  tpKey,
} from '../core/index.ts';
import type { Bus, Consumer, ConsumerOptions, GroupMetadata, PollOptions } from '../log/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { readArchivedPartition } from './archive-reader.ts';
import { readManifest } from './manifest.ts';
import type { ParquetFiles } from './parquet-file.ts';

export interface HistoryConsumerOptions {
  bus: Bus;
  store: ObjectStore;
  files: ParquetFiles;
  logger?: Logger;
}

/** How often, at most, a partition's log start is asked for again after a one-offset jump. */
const RECHECK_MS = 1000;

/** A partition this consumer owns, and what it still has to read from the archive before the log. */
interface Owned {
  topic: string;
  partition: number;
  /** The next offset to hand out; null until the group's committed offset was looked up. */
  next: number | null;
  /** Reading the archive from `next`, then going on from `resume` (the log's start when it began). */
  archive: { reader: AsyncGenerator<ConsumedRecord[]> | null; resume: number } | null;
  /** Records the archive reader gave beyond a poll's `maxRecords`. */
  ready: ConsumedRecord[];
  /** The log's records from past the archive, waiting until the archive before them has been read. */
  held: ConsumedRecord[];
  /** The log's first offset when last asked, and when. */
  logStart: number;
  checked: number;
}

/**
 * A group member that reads offsets the log no longer holds from the archive: a pipeline source with
 * `fromArchive: true` starts at offset 0 (or the group's committed offset) even when the log's
 * retention deleted the head of the topic. The archive and the log share offsets, so the group's
 * committed offsets, the pipeline's transactions and its exactly-once recovery work unchanged: a
 * restart part-way through the archive resumes from the committed offset in the archive.
 *
 * Per partition, the archive is read up to the log's start, then the log from there. While any
 * partition still reads the archive the log is not polled (its client buffers a bounded amount), so
 * records of one partition always come in offset order. If retention deletes past this consumer's
 * position later (it fell behind), the log's next record jumps over the deleted offsets, and those
 * are read from the archive first.
 */
export function historyConsumer(options: ConsumerOptions, history: HistoryConsumerOptions): Consumer {
  return new HistoryConsumer(options, history);
}

class HistoryConsumer implements Consumer {
  readonly #history: HistoryConsumerOptions;
  readonly #logger: Logger;
  readonly #group: string;
  readonly #log: Consumer;
  readonly #owned = new Map<string, Owned>();
  /** Which partition the next archive read serves: they take turns, so all of them move on. */
  #turn = 0;

  constructor(options: ConsumerOptions, history: HistoryConsumerOptions) {
    if (options.group === undefined) throw new TypeError('A history consumer is a group member');
    this.#history = history;
    this.#logger = history.logger ?? silentLogger;
    this.#group = options.group;
    this.#log = history.bus.consumer({
      ...options,
      reset: 'earliest',
      onAssigned: async (partitions) => {
        for (const { topic, partition } of partitions)
          this.#owned.set(tpKey(topic, partition), {
            topic,
            partition,
            next: null,
            archive: null,
            ready: [],
            held: [],
            logStart: 0,
            checked: 0,
          });
        await options.onAssigned?.(partitions);
      },
      onRevoked: async (partitions) => {
        try {
          await options.onRevoked?.(partitions);
        } finally {
          for (const { topic, partition } of partitions) {
            const owned = this.#owned.get(tpKey(topic, partition));
            this.#owned.delete(tpKey(topic, partition));
            await owned?.archive?.reader?.return(undefined);
          }
        }
      },
    });
  }

  subscribe(topics: string[]): Promise<void> {
    return this.#log.subscribe(topics);
  }

  assign(_partitions: Array<TopicPartition & { offset?: number }>): Promise<void> {
    throw new TypeError('A history consumer is a group member: subscribe() instead');
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#log.seek(topic, partition, offset);
    const owned = this.#owned.get(tpKey(topic, partition));
    if (owned) Object.assign(owned, { next: offset, archive: null, ready: [], held: [] });
  }

  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    const maxRecords = options.maxRecords ?? 500;
    const fresh = [...this.#owned.values()].filter((o) => o.next === null);
    if (fresh.length > 0) await this.#start(fresh);
    const fromArchive = await this.#fromArchive(maxRecords);
    if (fromArchive !== null) return fromArchive;
    const records = await this.#log.poll(options);
    return this.#fromLog(records);
  }

  /** Where newly owned partitions start: the group's committed offset, from the archive if the log lost it. */
  async #start(fresh: Owned[]): Promise<void> {
    for (const topic of new Set(fresh.map((o) => o.topic))) {
      const committed = await this.#history.bus.committedOffsets(this.#group, topic);
      const ranges = await this.#history.bus.partitionOffsets(topic);
      for (const owned of fresh.filter((o) => o.topic === topic)) {
        const start = ranges.find((r) => r.partition === owned.partition)?.start ?? 0;
        owned.next = committed.find((c) => c.partition === owned.partition)?.offset ?? 0;
        owned.logStart = start;
        owned.checked = Date.now();
        if (owned.next < start) await this.#readArchive(owned, start);
      }
    }
  }

  /**
   * The archive from the partition's next offset up to `to`, where the log takes over. What neither
   * holds (retention deleted it before it was archived) is reported and passed over.
   */
  async #readArchive(owned: Owned, to: number): Promise<void> {
    const { topic, partition } = owned;
    const from = owned.next!;
    const manifest = await readManifest(this.#history.store, topic, partition);
    const archived = Math.min(manifest?.next ?? 0, to);
    const lost = [
      ...(manifest?.gaps ?? []).filter((g) => g.to > from && g.from < archived),
      ...(archived < to ? [{ from: Math.max(from, archived), to }] : []),
    ];
    for (const gap of lost)
      this.#logger.warn(
        { topic, partition, from: gap.from, to: gap.to },
        'history lost: neither the archive nor the log holds these offsets',
      );
    owned.archive = {
      reader:
        manifest === null || from >= archived
          ? null
          : readArchivedPartition(this.#history.store, this.#history.files, manifest, {
              from,
              to: archived,
              logger: this.#logger,
            }),
      resume: to,
    };
  }

  /** One batch from a partition still reading the archive (or its held log records after it), or null. */
  async #fromArchive(maxRecords: number): Promise<ConsumedRecord[] | null> {
    const busy = [...this.#owned.values()].filter(
      (o) => o.archive !== null || o.ready.length > 0 || o.held.length > 0,
    );
    if (busy.length === 0) return null;
    const owned = busy[this.#turn++ % busy.length]!;
    while (owned.ready.length === 0 && owned.archive !== null) {
      const { value, done } = (await owned.archive.reader?.next()) ?? { done: true, value: undefined };
      if (!done) owned.ready = value;
      else {
        // What was lost before the log's start is passed over (and was reported).
        owned.next = Math.max(owned.next!, owned.archive.resume);
        owned.archive = null;
      }
    }
    const source = owned.ready.length > 0 ? owned.ready : owned.held;
    const out = source.splice(0, maxRecords);
    if (out.length > 0) owned.next = out.at(-1)!.offset + 1;
    return out;
  }

  /**
   * The log's records, each partition's checked for a jump past its next offset into what the log
   * no longer holds: those are held back while the offsets before them come from the archive.
   */
  async #fromLog(records: ConsumedRecord[]): Promise<ConsumedRecord[]> {
    // Runs of one partition: its first record is checked for a jump, its last moves `next` on. Only
    // a poll in which some run is held back is copied; the others go through as they came.
    let held: Set<number> | null = null;
    for (let i = 0; i < records.length; ) {
      const first = records[i]!;
      let end = i + 1;
      while (end < records.length && records[end]!.partition === first.partition) end++;
      const owned = this.#owned.get(tpKey(first.topic, first.partition));
      // Not owned (given up meanwhile): dropped. Owned since the poll began (no start offset yet):
      // held until the next poll has looked at the archive for it. Else: checked for a jump.
      const hold =
        owned === undefined ||
        owned.next === null ||
        (first.offset > owned.next && (await this.#deletedBefore(owned, first.offset)));
      if (hold) {
        if (owned) owned.held = records.slice(i, end);
        (held ??= new Set()).add(i);
      } else owned.next = records[end - 1]!.offset + 1;
      i = end;
    }
    if (held === null) return records;
    const out: ConsumedRecord[] = [];
    for (let i = 0; i < records.length; ) {
      let end = i + 1;
      while (end < records.length && records[end]!.partition === records[i]!.partition) end++;
      if (!held.has(i)) for (let j = i; j < end; j++) out.push(records[j]!);
      i = end;
    }
    return out;
  }

  /**
   * Whether the log deleted offsets from the partition's next one before `offset`, and the archive
   * is to be read for them. Offsets also jump over transaction markers and compacted records, so the
   * log's start is asked for only on a longer jump or when not asked for a while.
   */
  async #deletedBefore(owned: Owned, offset: number): Promise<boolean> {
    const next = owned.next!;
    if (next >= owned.logStart && (offset - next > 1 || Date.now() - owned.checked > RECHECK_MS)) {
      const ranges = await this.#history.bus.partitionOffsets(owned.topic);
      owned.logStart = ranges.find((r) => r.partition === owned.partition)?.start ?? owned.logStart;
      owned.checked = Date.now();
    }
    if (next >= owned.logStart) return false;
    await this.#readArchive(owned, Math.min(owned.logStart, offset));
    return true;
  }

  commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    return this.#log.commit(
      offsets ??
        [...this.#owned.values()].flatMap((o) =>
          o.next === null ? [] : [{ topic: o.topic, partition: o.partition, offset: o.next }],
        ),
    );
  }

  assignment(): TopicPartition[] {
    return this.#log.assignment();
  }

  groupMetadata(): GroupMetadata {
    return this.#log.groupMetadata();
  }

  position(topic: string, partition: number): number | undefined {
    return this.#owned.get(tpKey(topic, partition))?.next ?? this.#log.position(topic, partition);
  }

  async close(): Promise<void> {
    await this.#log.close();
    for (const owned of this.#owned.values()) await owned.archive?.reader?.return(undefined);
    this.#owned.clear();
  }
}
