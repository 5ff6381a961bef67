/**
 * The record model shared by every bus. Keys, values and header values are bytes; serdes live above.
 * Offsets are plain numbers: they stay exact up to 2^53, far past any partition's lifetime.
 * Offsets within a partition strictly increase but may have gaps (compaction removes records and
 * Kafka's transaction markers take offsets), so the next offset to read is always last + 1.
 */
export type Headers = Record<string, Buffer>;

export interface ProducerRecord {
  topic: string;
  key?: Buffer | null;
  /** `null` is a tombstone: on a compacted topic it deletes the key. */
  value: Buffer | null;
  headers?: Headers;
  /** Omitted: murmur2 of the key, or spread over partitions for a null key. */
  partition?: number;
  /** Milliseconds since the epoch; defaults to the time of the send. */
  timestamp?: number;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface PartitionOffset {
  partition: number;
  /** -1 when no record matches (e.g. offsetsForTime past the newest record). */
  offset: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
