import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { expect } from 'vitest';
import type { EmbeddedBus } from '../../src/log/index.ts';
import { until } from './cdc-helpers.ts';

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await active(client, name);
}

export async function active(client: KinesisClient, name: string): Promise<void> {
  await until(`stream ${name} active`, async () => {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
}

/** `count` records `{ key, n }` over `keys` keys, n rising per key from `from`. */
export async function putNumbered(
  client: KinesisClient,
  stream: string,
  keys: number,
  from: number,
  count: number,
): Promise<void> {
  const entries = Array.from({ length: count }, (_, i) => {
    const key = `k${(from + i) % keys}`;
    return { PartitionKey: key, Data: Buffer.from(JSON.stringify({ key, n: from + i })) };
  });
  for (let i = 0; i < entries.length; i += 250) {
    const answer = await client.send(
      new PutRecordsCommand({ StreamName: stream, Records: entries.slice(i, i + 250) }),
    );
    expect(answer.FailedRecordCount ?? 0).toBe(0);
  }
}

/** Each key's numbers in the order the topic holds them, and how many records there were. */
export async function numbersByKey(
  bus: EmbeddedBus,
  topic: string,
): Promise<{ total: number; byKey: Map<string, number[]> }> {
  const consumer = bus.consumer({ reset: 'earliest' });
  const ranges = await bus.partitionOffsets(topic);
  await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.start })));
  const byKey = new Map<string, number[]>();
  let total = 0;
  while (ranges.some((r) => (consumer.position(topic, r.partition) ?? 0) < r.end))
    for (const r of await consumer.poll({ timeoutMs: 100, maxRecords: 10_000 })) {
      const { key, n } = JSON.parse(r.value!.toString()) as { key: string; n: number };
      expect(r.key!.toString()).toBe(key);
      byKey.set(key, [...(byKey.get(key) ?? []), n]);
      total++;
    }
  await consumer.close();
  return { total, byKey };
}

/** Every number below `count` once, in rising order per key. */
export function expectExactlyOnce(
  result: { total: number; byKey: Map<string, number[]> },
  count: number,
): void {
  const all = [...result.byKey.values()].flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
  for (const [key, ns] of result.byKey) expect([key, ns]).toEqual([key, [...ns].sort((a, b) => a - b)]);
  expect(result.total).toBe(count);
}
