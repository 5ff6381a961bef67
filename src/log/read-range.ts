import type { ConsumedRecord } from '../core/index.ts';
import type { Bus } from './bus.ts';

/**
 * The committed records of one partition from `from` up to (not including) `end`, a poll's batch at
 * a time, each with the read position reached (past transaction markers and compacted-away offsets,
 * never past `end`): what the archiver copies and what a replay reads after the archive. A batch with
 * no records comes only when the position moved over offsets that hold none. Ends at `end`, or early
 * when a poll brings nothing.
 */
export async function* readRange(
  bus: Bus,
  topic: string,
  partition: number,
  from: number,
  end: number,
): AsyncGenerator<{ records: ConsumedRecord[]; position: number }> {
  const consumer = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
  try {
    await consumer.assign([{ topic, partition, offset: from }]);
    let position = from;
    while (position < end) {
      const batch = await consumer.poll({ maxRecords: 5000, maxBytes: 8 * 1024 * 1024, timeoutMs: 200 });
      const records = batch.filter((r) => r.offset < end);
      const reached = Math.min(end, consumer.position(topic, partition) ?? position);
      if (records.length > 0 || reached > position) yield { records, position: reached };
      position = reached;
      if (batch.length === 0 || records.length < batch.length) return;
    }
  } finally {
    await consumer.close();
  }
}
