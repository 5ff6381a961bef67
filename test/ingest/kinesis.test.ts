import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.ts';
import { KinesisSink, KinesisSource } from '../../src/ingest/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { type KinesisServer, kinesisAvailable, startKinesis } from '../support/kinesis.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { until } from './cdc-helpers.ts';
import { active, createStream, expectExactlyOnce, numbersByKey, putNumbered } from './kinesis-helpers.ts';

describe.runIf(kinesisAvailable())('Kinesis', () => {
  let kinesis: KinesisServer;
  let bus: EmbeddedBus;
  const temp = useTempDir('all');
  beforeAll(async () => {
    kinesis = await startKinesis();
    bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
  }, 90_000);
  afterAll(async () => {
    await bus?.close();
    await kinesis?.stop();
  });

  it('copies a stream into a topic exactly once and in key order, across a reshard', async () => {
    await createStream(kinesis.client, 'clicks', 2);
    await putNumbered(kinesis.client, 'clicks', 10, 0, 300);
    const source = new KinesisSource({
      ...kinesis.options,
      name: 'clicks',
      stream: 'clicks',
      topic: 'clicks',
      partitions: 3,
      from: 'earliest',
      bus,
      logger: silentLogger,
      pollIntervalMs: 50,
    });
    await source.start();
    try {
      await until('the first records', async () => (await numbersByKey(bus, 'clicks')).total >= 300);
      await kinesis.client.send(
        new UpdateShardCountCommand({
          StreamName: 'clicks',
          TargetShardCount: 4,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      await active(kinesis.client, 'clicks');
      await putNumbered(kinesis.client, 'clicks', 10, 300, 300);
      const shards = await kinesis.client.send(new ListShardsCommand({ StreamName: 'clicks' }));
      expect(shards.Shards!.some((s) => s.ParentShardId)).toBe(true);
      await until('every record', async () => (await numbersByKey(bus, 'clicks')).total >= 600);
    } finally {
      await source.stop();
    }
    expectExactlyOnce(await numbersByKey(bus, 'clicks'), 600);
  }, 120_000);

  it('puts a topic into a stream, sending again only the entries the stream refused', async () => {
    await createStream(kinesis.client, 'out', 2);
    await bus.createTopic('results', { partitions: 2 });
    const producer = bus.producer();
    const values = Array.from({ length: 1200 }, (_, n) => ({ key: `k${n % 7}`, n }));
    await producer.send(
      values.map((v) => ({
        topic: 'results',
        key: Buffer.from(v.key),
        value: Buffer.from(JSON.stringify(v)),
      })),
    );
    await producer.close();
    const client = (await import('../../src/ingest/kinesis/kinesis-client.ts')).kinesisClient(
      kinesis.options,
    );
    const refused = refuseSomeEntries(client, 3);
    const sink = new KinesisSink({
      ...kinesis.options,
      name: 'out',
      topic: 'results',
      stream: 'out',
      bus,
      logger: silentLogger,
      client,
    });
    await sink.start();
    try {
      await until(
        'the stream to hold every record',
        async () => (await readStream(kinesis.client, 'out')).length >= 1200,
      );
    } finally {
      await sink.stop();
      client.destroy();
    }
    expect(refused.count).toBeGreaterThan(0);
    // Only the refused entries went out again: every record once, and no more entries sent than that.
    expect(refused.sent).toBe(values.length + refused.count);
    const got = (await readStream(kinesis.client, 'out')).map(
      (d) => JSON.parse(d) as { key: string; n: number },
    );
    expect(got.map((g) => g.n).sort((a, b) => a - b)).toEqual(values.map((v) => v.n));
  }, 120_000);
});

/**
 * Makes the first `calls` PutRecords refuse every third entry as a throttled shard does: those are
 * not put, and their answers carry an ErrorCode at their index. Counts the entries sent in all.
 */
function refuseSomeEntries(client: KinesisClient, calls: number): { count: number; sent: number } {
  const refused = { count: 0, sent: 0 };
  let left = calls;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as { Records: PutRecordsRequestEntry[] };
      refused.sent += input.Records.length;
      if (left <= 0) return next(args);
      left--;
      const keep = input.Records.filter((_e, i) => i % 3 !== 1);
      const result = await next({ ...args, input: { ...input, Records: keep } });
      const output = result.output as PutRecordsCommandOutput;
      const kept = [...(output.Records ?? [])];
      output.Records = input.Records.map((_e, i) => {
        if (i % 3 !== 1) return kept.shift()!;
        refused.count++;
        return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' };
      });
      output.FailedRecordCount = input.Records.length - keep.length;
      return result;
    },
    { step: 'initialize', name: 'refuseSomeEntries' },
  );
  return refused;
}

/** Every record's data as text, shard by shard (each in order). */
async function readStream(client: KinesisClient, stream: string): Promise<string[]> {
  const out: string[] = [];
  const { Shards } = await client.send(new ListShardsCommand({ StreamName: stream }));
  for (const shard of Shards ?? []) {
    let { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard.ShardId!,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    for (;;) {
      const got = await client.send(new GetRecordsCommand({ ShardIterator }));
      for (const r of got.Records ?? []) out.push(Buffer.from(r.Data!).toString());
      if (!got.NextShardIterator || (got.Records ?? []).length === 0) break;
      ShardIterator = got.NextShardIterator;
    }
  }
  return out;
}
