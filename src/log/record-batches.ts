import {
  InvalidArgumentError,
  type ProducerRecord,
  partitionForKey,
  RecordTooLargeError,
  UnknownPartitionError,
} from '../core/index.ts';
import { encodedRecordSize, RECORD_FIXED_BYTES } from './batch-format.ts';
import type { EmbeddedBus } from './embedded-bus.ts';
import type { PartitionLog } from './partition-log.ts';

/** The records of one send (or one transaction) bound for one partition, in send order. */
export interface PartitionBatch {
  log: PartitionLog;
  records: readonly ProducerRecord[];
  sizes: number[];
  /** Positions of these records in the caller's array, to answer in the caller's order; null: all of them, in order. */
  indexes: number[] | null;
  bytes: number;
}

/**
 * Validates every record and groups them by partition. Throws on the first invalid record, before
 * anything is written, so a send is all-or-nothing with respect to validation.
 *
 * Partitions: an explicit one as given; otherwise murmur2 of the key, exactly as Kafka's default
 * partitioner; null keys stick to one partition per call (`stickyPartition`), as Kafka's sticky
 * partitioner does per batch, so a call's keyless records form one batch.
 */
export function groupByPartition(
  bus: EmbeddedBus,
  records: readonly ProducerRecord[],
  stickyPartition: (topic: string, partitions: number) => number,
): Map<PartitionLog, PartitionBatch> {
  if (!Array.isArray(records)) throw new InvalidArgumentError('send() takes an array of records');
  const sticky = new Map<string, number>();
  const sizes = new Array<number>(records.length);
  const logs = new Array<PartitionLog>(records.length);
  let single = true;
  const limit = bus.maxRecordBytes;
  let lastTopic = '';
  let lastConfig = null as ReturnType<EmbeddedBus['topicConfig']> | null;
  let partitionLogs: readonly PartitionLog[] | null = null;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (record === null || typeof record !== 'object')
      throw new InvalidArgumentError(`Record ${i} is not an object`);
    const { topic, key, value, partition, timestamp } = record;
    if (topic !== lastTopic || lastConfig === null) {
      lastConfig = bus.topicConfig(topic);
      partitionLogs = bus.partitionLogs(topic);
      lastTopic = topic;
    }
    const config = lastConfig;
    if (value !== null && !Buffer.isBuffer(value))
      throw new InvalidArgumentError(`Record ${i}: value must be a Buffer or null`);
    if (key !== undefined && key !== null && !Buffer.isBuffer(key)) {
      throw new InvalidArgumentError(`Record ${i}: key must be a Buffer, null or absent`);
    }
    if (timestamp !== undefined && !Number.isFinite(timestamp)) {
      throw new InvalidArgumentError(`Record ${i}: timestamp must be a finite number of milliseconds`);
    }
    if (config.compacted && (key === undefined || key === null)) {
      throw new InvalidArgumentError(
        `Record ${i}: topic '${topic}' is compacted, so every record needs a key`,
      );
    }
    const size = encodedRecordSize(record);
    if (size - RECORD_FIXED_BYTES > limit)
      throw new RecordTooLargeError(size - RECORD_FIXED_BYTES, limit, `record ${i}`);
    let p: number;
    if (partition !== undefined) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= config.partitions) {
        throw new UnknownPartitionError(topic, partition, config.partitions);
      }
      p = partition;
    } else if (key !== undefined && key !== null) {
      p = partitionForKey(key, config.partitions);
    } else {
      p = sticky.get(topic) ?? stickyPartition(topic, config.partitions);
      sticky.set(topic, p);
    }
    const log = partitionLogs![p]!;
    sizes[i] = size;
    logs[i] = log;
    if (log !== logs[0]) single = false;
  }
  if (single && records.length > 0) {
    // The common case, one partition: the caller's array is the batch as it is.
    let bytes = 0;
    for (const size of sizes) bytes += size;
    return new Map([[logs[0]!, { log: logs[0]!, records, sizes, indexes: null, bytes }]]);
  }
  const groups = new Map<PartitionLog, PartitionBatch & { records: ProducerRecord[]; indexes: number[] }>();
  for (let i = 0; i < records.length; i++) {
    const log = logs[i]!;
    let group = groups.get(log);
    if (!group) {
      group = { log, records: [], sizes: [], indexes: [], bytes: 0 };
      groups.set(log, group);
    }
    group.records.push(records[i]!);
    group.sizes.push(sizes[i]!);
    group.indexes.push(i);
    group.bytes += sizes[i]!;
  }
  return groups;
}
