import type { ConsumedRecord } from '../../src/core/index.ts';
import { type EmbeddedBus, type EmbeddedBusOptions, openEmbeddedBus } from '../../src/log/index.ts';

export function open(dataDir: string, options: Partial<EmbeddedBusOptions> = {}): Promise<EmbeddedBus> {
  return openEmbeddedBus({ dataDir, maintenanceInterval: 0, ...options });
}

/** Every record of one partition from its start, as a read_committed reader sees it. */
export async function readAll(bus: EmbeddedBus, topic: string, partition = 0): Promise<ConsumedRecord[]> {
  const [range] = (await bus.partitionOffsets(topic)).filter((r) => r.partition === partition);
  const consumer = bus.consumer({});
  await consumer.assign([{ topic, partition, offset: range!.start }]);
  const out: ConsumedRecord[] = [];
  for (;;) {
    const batch = await consumer.poll({ maxRecords: 100_000, maxBytes: 64 * 1024 * 1024, timeoutMs: 0 });
    if (batch.length === 0) break;
    out.push(...batch);
  }
  await consumer.close();
  return out;
}

export const values = (records: ConsumedRecord[]): string[] =>
  records.map((r) => r.value?.toString('utf8') ?? '∅');
