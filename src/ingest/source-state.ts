import type { ProducerRecord } from '../core/index.ts';
import { type Bus, ensureTopic, readLatest } from '../log/index.ts';

/**
 * Where a source that copies another system into the bus is (a CDC source's LSN, a Kinesis source's
 * sequence numbers): a compacted topic keyed by source name, written in the same bus transaction as
 * the records it accounts for, so that a restart resumes exactly after them.
 */
export async function readSourceState<T>(bus: Bus, topic: string, source: string): Promise<T | null> {
  await ensureTopic(bus, topic, { partitions: 1, compacted: true });
  const value = (await readLatest(bus, topic, (key) => key === source)).get(source);
  return value ? (JSON.parse(value.toString('utf8')) as T) : null;
}

export function sourceStateRecord(topic: string, source: string, state: unknown): ProducerRecord {
  return {
    topic,
    key: Buffer.from(source),
    value: state === null ? null : Buffer.from(JSON.stringify(state)),
  };
}
