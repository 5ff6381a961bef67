import { type ProducerRecord, type RecordMetadata, tpKey } from '../../core/index.ts';
import type { TopicSpec } from '../../log/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import type { StoreChange } from '../state/state-store.ts';

/**
 * A stateful step's changelog: every change of its store (the last value per key per transaction,
 * null for a delete), on the partition of the task that made it, as Kafka Streams keeps one per
 * store. Compacted with no time retention, so it holds the live keys and restoring reads those.
 */
export function changelogTopic(pipeline: Pipeline, step: string): string {
  return `kappa-${pipeline.name}-${step}-changelog`;
}

export function changelogSpec(partitions: number): TopicSpec {
  return { partitions, compacted: true };
}

export function changelogRecords(
  topic: string,
  partition: number,
  changes: readonly StoreChange[],
): ProducerRecord[] {
  return changes.map(([key, value]) => ({ topic, partition, key, value }));
}

/** After a commit: the offset past the last record each (topic, partition) got, to record as a store's position. */
export function nextOffsets(written: readonly RecordMetadata[]): Map<string, number> {
  const next = new Map<string, number>();
  for (const { topic, partition, offset } of written) {
    const key = tpKey(topic, partition);
    if ((next.get(key) ?? -1) < offset + 1) next.set(key, offset + 1);
  }
  return next;
}
