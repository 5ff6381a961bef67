import type { ConsumedRecord, TopicPartitionOffset } from '../core/index.ts';
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

  static async load(log: PartitionLog): Promise<OffsetStore> {
    const store = new OffsetStore(log);
    let offset = log.startOffset;
    for (;;) {
      const records: ConsumedRecord[] = [];
      const next = log.read(offset, 10_000, 16 * 1024 * 1024, records);
      for (const record of records) {
        if (record.key === null || record.value === null) continue;
        const [group, topic, partition] = JSON.parse(record.key.toString('utf8')) as [string, string, number];
        const { offset: committed } = JSON.parse(record.value.toString('utf8')) as { offset: number };
        store.#set(group, { topic, partition, offset: committed });
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

  forgetTopic(topic: string): void {
    for (const [key, entry] of this.#committed) if (entry.topic === topic) this.#committed.delete(key);
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
