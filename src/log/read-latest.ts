import type { Bus } from './bus.ts';

/**
 * The newest value of every key of a topic as it is now (read_committed, start to end of every
 * partition; null for a tombstone): how a small compacted topic is read back as a table, e.g. the
 * positions a CDC source stored, or a CDC topic's live keys when its table is truncated.
 */
export async function readLatest(
  bus: Bus,
  topic: string,
  wanted: (key: string) => boolean = () => true,
): Promise<Map<string, Buffer | null>> {
  const latest = new Map<string, Buffer | null>();
  const ranges = (await bus.partitionOffsets(topic)).filter((r) => r.end > r.start);
  if (ranges.length === 0) return latest;
  const consumer = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
  try {
    await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.start })));
    const done = () => ranges.every((r) => (consumer.position(topic, r.partition) ?? r.start) >= r.end);
    while (!done()) {
      for (const r of await consumer.poll({ maxRecords: 5000, timeoutMs: 200 })) {
        if (r.key === null) continue;
        const key = r.key.toString('utf8');
        if (wanted(key)) latest.set(key, r.value);
      }
    }
  } finally {
    await consumer.close();
  }
  return latest;
}
