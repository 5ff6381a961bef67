import { channel } from '../core/index.ts';
import type { AppendedEvent } from '../log/index.ts';

/**
 * Records Kafka acknowledged (a transaction's once it commits), per topic and partition of each
 * send, with their bytes as sent (keys, values, headers): the embedded log's `kappa:log:append`.
 */
export const appended = channel<AppendedEvent>('kafka', 'append');

interface Sent {
  topic: string;
  partition?: number;
  key?: Buffer;
  value?: Buffer;
  /** As the producer builds them: always a Map. */
  headers?: Map<Buffer, Buffer> | Record<string, Buffer>;
}

/** Publishes what the requests appended, per topic and partition, if anyone listens. */
export function publishAppended(requests: readonly (readonly Sent[])[]): void {
  if (!appended.hasSubscribers) return;
  const sums = new Map<string, AppendedEvent>();
  for (const messages of requests)
    for (const m of messages) {
      const at = `${m.topic}\0${m.partition}`;
      let sum = sums.get(at);
      if (sum === undefined)
        sums.set(at, (sum = { topic: m.topic, partition: m.partition ?? -1, records: 0, bytes: 0 }));
      sum.records++;
      sum.bytes += (m.key?.length ?? 0) + (m.value?.length ?? 0);
      if (m.headers instanceof Map) for (const [k, v] of m.headers) sum.bytes += k.length + v.length;
    }
  for (const sum of sums.values()) appended.publish(sum);
}
