// One produce-and-consume workload on both buses and against Kafka's own Java perf tools, in one
// run: the embedded log, Kappa's Kafka bus on a real broker, and ProducerPerformance /
// ConsumerPerformance (the practical limit of that broker on this machine).
// KAPPA_BENCH_KAFKA=host:port uses a running broker instead of starting one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KafkaBus } from '../src/kafka/index.ts';
import { type Bus, openEmbeddedBus } from '../src/log/index.ts';
import { runKafkaJava, startKafkaBroker } from '../test/support/kafka-broker.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const PARTITIONS = 6;
const BATCH = 1000;
/** Sends in flight at once, as a pipelined producer keeps them (Java's default allows 5 per broker). */
const IN_FLIGHT = 4;

interface Case {
  valueBytes: number;
  records: number;
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const cases: Case[] = [
    { valueBytes: 100, records: quick ? 300_000 : 2_000_000 },
    { valueBytes: 1024, records: quick ? 100_000 : 500_000 },
  ];
  const external = process.env.KAPPA_BENCH_KAFKA;
  const broker = external ? null : await startKafkaBroker();
  const bootstrap = external ?? broker!.bootstrap;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-bus-'));
  try {
    const embedded = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
    const kafka = new KafkaBus({ brokers: [bootstrap], clientId: 'kappa-bench', replicationFactor: 1 });
    for (const c of cases) {
      const label = c.valueBytes === 1024 ? '1KiB' : `${c.valueBytes}B`;
      progress(`${label}: embedded log`);
      const ours = await workload(embedded, c);
      progress(`${label}: Kafka bus`);
      const onKafka = await workload(kafka, c);
      progress(`${label}: Java ProducerPerformance and ConsumerPerformance`);
      const java = await javaTools(bootstrap, c);
      for (const phase of ['produce', 'consume'] as const) {
        const javaTool = phase === 'produce' ? 'ProducerPerformance' : 'ConsumerPerformance';
        yield result('bus', `${phase}-${label}-embedded`, 'records_per_s', ours[phase], 'rec/s', {
          name: 'kappa-kafka-bus',
          value: onKafka[phase],
        });
        yield result('bus', `${phase}-${label}-kafka`, 'records_per_s', onKafka[phase], 'rec/s', {
          name: `java-${javaTool}`,
          value: java[phase],
        });
      }
    }
    await kafka.close();
    await embedded.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await broker?.stop();
  }
}

/**
 * Keyless records in batches of 1,000, `IN_FLIGHT` sends at a time, into a fresh 6-partition topic;
 * then one consumer reads them all from the start. The embedded topic is not fsynced per batch, the
 * durability a single Kafka broker gives (it leaves flushing to the OS).
 */
async function workload(bus: Bus, c: Case): Promise<{ produce: number; consume: number }> {
  const topic = `bench-${c.valueBytes}-${Date.now()}`;
  await bus.createTopic(topic, { partitions: PARTITIONS, fsync: 'never' });
  const producer = bus.producer();
  const value = Buffer.alloc(c.valueBytes, 'v');
  const batch = Array.from({ length: BATCH }, () => ({ topic, value }));
  const sends = c.records / BATCH;
  const warmUp = Math.min(20, sends / 10);
  let next = 0;
  const pump = async (until: number) => {
    while (next < until) {
      next++;
      await producer.send(batch);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => pump(warmUp)));
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => pump(warmUp + sends)));
  const produce = (sends * BATCH) / ((performance.now() - start) / 1000);
  await producer.close();

  const consumer = bus.consumer({ reset: 'earliest' });
  await consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
  const total = (warmUp + sends) * BATCH;
  let got = (await consumer.poll({ maxRecords: 10_000, maxBytes: 16 * 1024 * 1024, timeoutMs: 5000 })).length;
  const readStart = performance.now();
  const first = got;
  while (got < total) {
    const records = await consumer.poll({ maxRecords: 10_000, maxBytes: 16 * 1024 * 1024, timeoutMs: 5000 });
    if (records.length === 0) throw new Error(`consumer stalled at ${got} of ${total} records`);
    got += records.length;
  }
  const consume = (got - first) / ((performance.now() - readStart) / 1000);
  await consumer.close();
  await bus.deleteTopic(topic);
  return { produce, consume };
}

/** Kafka's own perf tools on the same broker, with the same record count and size. */
async function javaTools(bootstrap: string, c: Case): Promise<{ produce: number; consume: number }> {
  const topic = `bench-java-${c.valueBytes}-${Date.now()}`;
  const admin = new KafkaBus({ brokers: [bootstrap], clientId: 'kappa-bench-admin', replicationFactor: 1 });
  await admin.createTopic(topic, { partitions: PARTITIONS });
  const jvm = ['-Xmx1g', '-Dlog4j2.rootLogger.level=WARN'];
  // acks=all and idempotence are the Java producer's defaults, as they are Kappa's. Its batches may
  // grow as large as Kappa's (1,000 records a send); with its default 16 KiB batch.size it would send
  // 1 KiB records 16 at a time and measure its config, not its limit.
  const batchBytes = Math.min(1_000_000, BATCH * (c.valueBytes + 40));
  const produced = await runKafkaJava(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      ...[
        '--topic',
        topic,
        '--num-records',
        String(c.records),
        '--record-size',
        String(c.valueBytes),
        '--throughput',
        '-1',
      ],
      ...[
        '--producer-props',
        `bootstrap.servers=${bootstrap}`,
        'acks=all',
        `batch.size=${batchBytes}`,
        'linger.ms=5',
      ],
    ],
    undefined,
    jvm,
  );
  const producedLine = produced.trim().split('\n').at(-1) ?? '';
  const produce = Number(/([\d.]+) records\/sec/.exec(producedLine)?.[1]);
  const consumed = await runKafkaJava(
    'org.apache.kafka.tools.ConsumerPerformance',
    [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      topic,
      '--messages',
      String(c.records),
      '--timeout',
      '60000',
    ],
    undefined,
    jvm,
  );
  // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const row = consumed
    .trim()
    .split('\n')
    .at(-1)!
    .split(',')
    .map((s) => s.trim());
  const consume = Number(row[9]);
  await admin.deleteTopic(topic);
  await admin.close();
  if (!Number.isFinite(produce) || !Number.isFinite(consume)) {
    throw new Error(`could not read the Java tools' output:\n${producedLine}\n${consumed}`);
  }
  return { produce, consume };
}

function progress(message: string): void {
  process.stderr.write(`bench bus: ${message}\n`);
}
