import type { ConsumedRecord, Logger, TopicPartitionOffset } from '../core/index.ts';
import { encodeBatch, encodedRecordSize, type RecordInput } from './batch-format.ts';
import type { PartitionLog } from './partition-log.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

/**
 * Committed group offsets, kept where Kafka keeps them: records on a compacted internal topic, keyed
 * by (group, topic, partition). Being records, offsets join a transaction like any other write, and
 * survive crashes by the log's own guarantees. An in-memory map answers reads.
 */
export class OffsetStore {
  readonly log: PartitionLog;
  readonly #committed = new Map<string, TopicPartitionOffset & { group: string }>();

  private constructor(log: PartitionLog) {
    this.log = log;
  }

  /**
   * Reads the topic into memory. A record that is not an offset commit (only a bug or an outside
   * program could have written one) is skipped with a warning naming where it is: refusing to start
   * would take every group's offsets hostage to one bad record.
   */
  static async load(log: PartitionLog, logger: Logger): Promise<OffsetStore> {
    const store = new OffsetStore(log);
    let offset = log.startOffset;
    for (;;) {
      const records: ConsumedRecord[] = [];
      const next = log.read(offset, 10_000, 16 * 1024 * 1024, records);
      for (const record of records) {
        if (record.key === null) continue;
        if (record.value === null) {
          // A tombstone: the offsets of a deleted topic.
          store.#committed.delete(tombstoneKey(record.key));
          continue;
        }
        const commit = parseCommit(record.key, record.value);
        if (commit) store.#set(commit.group, commit);
        else
          logger.warn(
            { topic: record.topic, partition: record.partition, offset: record.offset },
            'skipped a malformed record in the offsets topic',
          );
      }
      if (next === offset) break;
      offset = next;
    }
    return store;
  }

  get(group: string, topic: string, partition: number): number | undefined {
    return this.#committed.get(keyOf(group, topic, partition))?.offset;
  }

  list(group: string, topic?: string): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const entry of this.#committed.values()) {
      if (entry.group === group && (topic === undefined || entry.topic === topic)) {
        out.push({ topic: entry.topic, partition: entry.partition, offset: entry.offset });
      }
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /** Every group with a committed offset. */
  groups(): string[] {
    return [...new Set([...this.#committed.values()].map((e) => e.group))];
  }

  /** The batch that records these groups' offsets, for a plain commit or a transaction's. */
  encode(
    commits: ReadonlyArray<[group: string, offsets: TopicPartitionOffset[]]>,
    now: number,
    transactionId = 0,
  ): Buffer {
    const records: RecordInput[] = commits.flatMap(([group, offsets]) =>
      offsets.map((o) => ({
        key: Buffer.from(JSON.stringify([group, o.topic, o.partition])),
        value: Buffer.from(JSON.stringify({ offset: o.offset })),
      })),
    );
    return encodeBatch(records, records.map(encodedRecordSize), now, transactionId);
  }

  async commit(group: string, offsets: TopicPartitionOffset[], now: number): Promise<void> {
    if (offsets.length === 0) return;
    await this.log.append(this.encode([[group, offsets]], now));
    this.apply(group, offsets);
  }

  apply(group: string, offsets: TopicPartitionOffset[]): void {
    for (const o of offsets) this.#set(group, o);
  }

  /** Drops every group's offsets of a deleted topic, also on disk (tombstones), so a restart does not bring them back. */
  async forgetTopic(topic: string, now: number): Promise<void> {
    const gone = [...this.#committed].filter(([, entry]) => entry.topic === topic);
    if (gone.length === 0) return;
    const records: RecordInput[] = gone.map(([, e]) => ({
      key: Buffer.from(JSON.stringify([e.group, e.topic, e.partition])),
      value: null,
    }));
    await this.log.append(encodeBatch(records, records.map(encodedRecordSize), now));
    for (const [key] of gone) this.#committed.delete(key);
  }

  #set(group: string, o: TopicPartitionOffset): void {
    this.#committed.set(keyOf(group, o.topic, o.partition), {
      group,
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
    });
  }
}

function keyOf(group: string, topic: string, partition: number): string {
  return `${group}\u0000${topic}\u0000${partition}`;
}

/** The map key of a tombstone's record key; a malformed one matches nothing. */
function tombstoneKey(key: Buffer): string {
  try {
    const [group, topic, partition] = JSON.parse(key.toString('utf8')) as [string, string, number];
    return keyOf(group, topic, partition);
  } catch {
    return '';
  }
}

function parseCommit(key: Buffer, value: Buffer): (TopicPartitionOffset & { group: string }) | null {
  try {
    const k = JSON.parse(key.toString('utf8')) as unknown;
    const v = JSON.parse(value.toString('utf8')) as { offset?: unknown } | null;
    if (!Array.isArray(k) || k.length !== 3) return null;
    const [group, topic, partition] = k as unknown[];
    const offset = v?.offset;
    if (typeof group !== 'string' || typeof topic !== 'string') return null;
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) return null;
    return { group, topic, partition: partition as number, offset: offset as number };
  } catch {
    return null;
  }
}
