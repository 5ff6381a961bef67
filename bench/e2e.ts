// End to end: events/s of two windowed pipelines run by the real runtime (PipelineRunner: consumer
// groups, transactions, lmdb state, changelogs; on Kafka a repartition topic, on the embedded log the
// local exchange `kappa up` uses) over Nexmark bids in a
// 4-partition topic, on the embedded log and on a Kafka broker, against the same pipeline's operators
// alone (one bare PipelineTask over the same records, no bus writes: nexmark.ts's runKappa). All
// figures come from the same run; each embedded one and the operator-only one is the fastest of three.
// KAPPA_BENCH_KAFKA=host:port uses a running broker instead of starting one; --quick skips Kafka.
// KAPPA_BENCH_LOG=warn shows the runtime's log on stderr; KAPPA_BENCH_E2E=tumbling (or session) runs one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { type ConsumedRecord, ManualClock } from '../src/core/index.ts';
import { KafkaBus } from '../src/kafka/index.ts';
import { type Bus, openEmbeddedBus } from '../src/log/index.ts';
import { Metrics } from '../src/ops/index.ts';
import {
  count,
  max,
  type Pipeline,
  PipelineRunner,
  PipelineTask,
  pipeline,
  session,
  stageGroup,
  tumbling,
} from '../src/stream/index.ts';
import { startKafkaBroker } from '../test/support/kafka-broker.ts';
import { generateNexmark, maxDisorder } from './nexmark/generator.ts';
import type { Bid } from './nexmark/model.ts';
import { bidSerde, nexmarkSerde } from './nexmark/serde.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BENCH = 'e2e';
const PARTITIONS = 4;
const SOURCE = 'e2e-bids';
/** The first bids of the source again, for a warm-up run of each pipeline before it is measured. */
const WARM_SOURCE = 'e2e-bids-warm';
const SEND_BATCH = 5000;
/** Runs of each embedded configuration; the fastest counts. */
const RUNS = 3;
const GENERATOR = { seed: 7, rate: 10_000, outOfOrderGroup: 50 };
/** As the nexmark queries: the generator's largest disorder, in ms of event time. */
const MAX_OUT_OF_ORDER = maxDisorder(GENERATOR);
/** The last bid of each partition is this far past every other: every window before it closes. */
const FAR_FUTURE_MS = 24 * 3600_000;
/** How often the finish line (committed offsets against end offsets) is looked at. */
const WATCH_MS = 10;
/** Longest a run may take before it is given up. */
const RUN_TIMEOUT_MS = 15 * 60_000;

const PIPELINES = (['tumbling', 'session'] as const).filter(
  (kind) => !process.env.KAPPA_BENCH_E2E || process.env.KAPPA_BENCH_E2E === kind,
);
type PipelineName = (typeof PIPELINES)[number];

/**
 * The two pipelines. The source holds bids only (the generator's stream with persons and auctions
 * dropped before it is written, not a `.filter` step), Avro-encoded as the nexmark bench encodes
 * them (`nexmarkSerde`, whose bid encoding is `bidSerde`'s), so the pipeline reads them with bidSerde.
 */
function build(kind: PipelineName, name: string, source: string): Pipeline {
  const bids = pipeline(name).source<Bid>(source, {
    serde: bidSerde,
    eventTime: (b) => b.dateTime,
    maxOutOfOrder: MAX_OUT_OF_ORDER,
  });
  return kind === 'tumbling'
    ? bids
        .keyBy((b) => b.auction)
        .window(tumbling('10s'))
        .aggregate({ n: count(), max: max((b: Bid) => b.price) })
        .toTopic(`${name}-out`)
    : bids
        .keyBy((b) => b.bidder)
        .window(session('10s'))
        .aggregate({ n: count() })
        .toTopic(`${name}-out`);
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const n = quick ? 200_000 : 1_000_000;
  const warm = Math.min(50_000, n / 4);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-e2e-'));
  const bus = await openEmbeddedBus({
    dataDir: path.join(dir, 'log'),
    maintenanceInterval: 0,
    topicDefaults: { fsync: 'never' },
  });
  let runs = 0;
  const fresh = (kind: string) => `e2e-${kind}-${Date.now().toString(36)}-${++runs}`;
  try {
    // Neither the generated bids nor the records read back stay in memory for the runs: a heap of
    // a few hundred MB of them would make every GC of the runs slower.
    const lastTime = await writeSources(bus, n, warm);
    // The operators alone first, over the records as read back (without the last far-future bids:
    // the bare task ends its input instead, which closes every window the same way).
    const baseline = await operatorOnlyBaselines(bus, fresh);
    await appendLastBids(bus, SOURCE, lastTime);
    await appendLastBids(bus, WARM_SOURCE, lastTime);

    const stateRoot = path.join(dir, 'state');
    const e2e = async (target: Bus, kind: PipelineName, source: string, changelogs: boolean) => {
      const name = fresh(kind);
      const outcome = await runPipeline(target, build(kind, name, source), {
        stateDir: path.join(stateRoot, name, 'tasks'),
        changelogs,
      });
      await dropTopics(target, name);
      await rm(path.join(stateRoot, name), { recursive: true, force: true });
      return outcome;
    };
    const check = (label: string, kind: PipelineName, outcome: RunOutcome) => {
      const expected = baseline.get(kind)!.outputs;
      if (outcome.outputs !== expected)
        progress(
          `WARNING ${label}: the runner wrote ${outcome.outputs} records, the operator-only run ${expected}`,
        );
      if (outcome.deadLetters > 0) progress(`WARNING ${label}: ${outcome.deadLetters} dead letters`);
    };
    const operatorOnlyOf = (kind: PipelineName) => ({
      name: 'operator-only',
      value: n / baseline.get(kind)!.seconds,
    });

    for (const kind of PIPELINES) {
      progress(`${kind}: warm-up on the embedded log (${warm} bids)`);
      await e2e(bus, kind, WARM_SOURCE, true);
      await e2e(bus, kind, WARM_SOURCE, false);
      // The fastest of RUNS each, alternating, as the operator-only figure is the fastest of three.
      const none: RunOutcome = { seconds: Number.POSITIVE_INFINITY, outputs: 0, deadLetters: 0 };
      let withChangelogs = none;
      let without = none;
      let withMetrics = none;
      for (let round = 1; round <= RUNS; round++) {
        progress(`${kind}: embedded log, changelogs (${round}/${RUNS})`);
        const a = await e2e(bus, kind, SOURCE, true);
        check(`${kind}-embedded`, kind, a);
        if (a.seconds < withChangelogs.seconds) withChangelogs = a;
        // The same run with Prometheus metrics kept, as kappa up keeps them: every layer publishes.
        progress(`${kind}: embedded log, changelogs, metrics on (${round}/${RUNS})`);
        const metrics = new Metrics().start();
        const m = await e2e(bus, kind, SOURCE, true).finally(() => metrics.stop());
        check(`${kind}-embedded-metrics`, kind, m);
        if (m.seconds < withMetrics.seconds) withMetrics = m;
        progress(`${kind}: embedded log, no changelogs (${round}/${RUNS})`);
        const b = await e2e(bus, kind, SOURCE, false);
        check(`${kind}-embedded-no-changelog`, kind, b);
        if (b.seconds < without.seconds) without = b;
      }
      const rate = n / withChangelogs.seconds;
      const rateWithout = n / without.seconds;
      progress(
        `${kind}: ${withChangelogs.outputs} results; ${withChangelogs.seconds.toFixed(2)} s with changelogs, ${without.seconds.toFixed(2)} s without, ${baseline.get(kind)!.seconds.toFixed(2)} s operator-only`,
      );
      yield result(BENCH, `${kind}-embedded`, 'events_per_s', rate, 'ev/s', operatorOnlyOf(kind));
      yield result(
        BENCH,
        `${kind}-embedded-no-changelog`,
        'events_per_s',
        rateWithout,
        'ev/s',
        operatorOnlyOf(kind),
      );
      yield result(BENCH, `${kind}-changelog-cost`, 'events_per_s', rate, 'ev/s', {
        name: 'no-changelogs',
        value: rateWithout,
      });
      yield result(BENCH, `${kind}-metrics-cost`, 'events_per_s', n / withMetrics.seconds, 'ev/s', {
        name: 'metrics-off',
        value: rate,
      });
    }

    if (quick) progress('kafka: skipped in quick mode');
    else {
      const kafka = await openKafka();
      if (kafka) {
        try {
          progress('kafka: writing the source');
          await writeSources(kafka.bus, n, warm);
          await appendLastBids(kafka.bus, SOURCE, lastTime);
          await appendLastBids(kafka.bus, WARM_SOURCE, lastTime);
          for (const kind of PIPELINES) {
            progress(`${kind}: warm-up on Kafka (${warm} bids)`);
            await e2e(kafka.bus, kind, WARM_SOURCE, true);
            progress(`${kind}: Kafka, changelogs`);
            const outcome = await e2e(kafka.bus, kind, SOURCE, true);
            check(`${kind}-kafka`, kind, outcome);
            progress(`${kind}: ${outcome.outputs} results; ${outcome.seconds.toFixed(2)} s on Kafka`);
            yield result(
              BENCH,
              `${kind}-kafka`,
              'events_per_s',
              n / outcome.seconds,
              'ev/s',
              operatorOnlyOf(kind),
            );
          }
        } finally {
          await kafka.close();
        }
      }
    }
  } finally {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first `n` bids of the generator's stream (46 of every 50 events are bids). */
function generateBids(n: number): Bid[] {
  const events = generateNexmark({ ...GENERATOR, events: Math.ceil((n * 50) / 46) + 100 });
  const bids = events.filter((e): e is Bid => e.type === 'bid');
  if (bids.length < n) throw new Error(`the generator made ${bids.length} bids, not ${n}`);
  return bids.slice(0, n);
}

/** Bid i goes to partition i mod 4: each partition is in event-time order up to the generator's disorder. */
async function writeSource(bus: Bus, topic: string, bids: Bid[]): Promise<void> {
  await bus.createTopic(topic, { partitions: PARTITIONS });
  const producer = bus.producer();
  for (let i = 0; i < bids.length; i += SEND_BATCH)
    await producer.send(
      bids.slice(i, i + SEND_BATCH).map((b, j) => ({
        topic,
        partition: (i + j) % PARTITIONS,
        value: nexmarkSerde.encode(b),
      })),
    );
  await producer.close();
}

/** Generates the bids and writes the source and the warm-up source; the last bid's event time. */
async function writeSources(bus: Bus, n: number, warm: number): Promise<number> {
  progress(`generating ${n} bids`);
  const bids = generateBids(n);
  await writeSource(bus, SOURCE, bids);
  await writeSource(bus, WARM_SOURCE, bids.slice(0, warm));
  return bids.reduce((m, b) => Math.max(m, b.dateTime), 0);
}

/** One bid per partition a day past the last, on auction and bidder ids no other bid has. */
async function appendLastBids(bus: Bus, topic: string, lastTime: number): Promise<void> {
  const producer = bus.producer();
  await producer.send(
    Array.from({ length: PARTITIONS }, (_, partition) => ({
      topic,
      partition,
      value: nexmarkSerde.encode({
        type: 'bid',
        auction: 1 + partition,
        bidder: 1 + partition,
        price: 1,
        channel: 'end',
        url: 'end',
        dateTime: lastTime + FAR_FUTURE_MS,
      }),
    })),
  );
  await producer.close();
}

/** The operator-only run of each pipeline over the source as it is now. */
async function operatorOnlyBaselines(
  bus: Bus,
  fresh: (kind: string) => string,
): Promise<Map<PipelineName, { seconds: number; outputs: number }>> {
  const records = await readSource(bus, SOURCE);
  const baseline = new Map<PipelineName, { seconds: number; outputs: number }>();
  for (const kind of PIPELINES) {
    progress(`${kind}: operator-only`);
    baseline.set(
      kind,
      operatorOnly(() => build(kind, fresh(kind), SOURCE), records),
    );
  }
  return baseline;
}

/**
 * Every record of the source, each partition read whole and then interleaved 2,000 records at a
 * time (what the runner's polls take), so the bare task's watermark moves as it would in the runner.
 */
async function readSource(bus: Bus, topic: string): Promise<ConsumedRecord[]> {
  const perPartition: ConsumedRecord[][] = [];
  for (let partition = 0; partition < PARTITIONS; partition++)
    perPartition.push(await readPartitions(bus, topic, [partition]));
  const out: ConsumedRecord[] = [];
  const chunk = 2000;
  for (let at = 0; perPartition.some((p) => at < p.length); at += chunk)
    for (const p of perPartition) for (let i = at; i < Math.min(p.length, at + chunk); i++) out.push(p[i]!);
  return out;
}

/** What a read_committed reader finds on these partitions now, from their start to their end. */
async function readPartitions(bus: Bus, topic: string, partitions: number[]): Promise<ConsumedRecord[]> {
  const ranges = (await bus.partitionOffsets(topic)).filter((r) => partitions.includes(r.partition));
  const consumer = bus.consumer({});
  const out: ConsumedRecord[] = [];
  try {
    await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.start })));
    const done = () => ranges.every((r) => (consumer.position(topic, r.partition) ?? 0) >= r.end);
    while (!done()) {
      const batch = await consumer.poll({ maxRecords: 10_000, maxBytes: 16 * 1024 * 1024, timeoutMs: 5000 });
      if (batch.length === 0 && !done()) throw new Error(`reading ${topic} stalled at ${out.length} records`);
      for (const r of batch) out.push(r);
    }
  } finally {
    await consumer.close();
  }
  return out;
}

async function countRecords(bus: Bus, topic: string): Promise<number> {
  const { partitions } = await bus.describeTopic(topic);
  return (
    await readPartitions(
      bus,
      topic,
      Array.from({ length: partitions }, (_, p) => p),
    )
  ).length;
}

/**
 * nexmark.ts's runKappa: the whole pipeline in one task over all partitions, over records already
 * read, its output counted and dropped; the fastest of three runs after a warm-up.
 */
function operatorOnly(make: () => Pipeline, records: ConsumedRecord[]): { seconds: number; outputs: number } {
  let outputs = 0;
  const once = () => {
    outputs = 0;
    const task = new PipelineTask(make(), {
      partitions: Array.from({ length: PARTITIONS }, (_, p) => p),
      clock: new ManualClock(0),
      output: {
        send: (_topic, _key, value) => {
          if (value !== null && value.length > 0) outputs++;
        },
        deadLetter: () => {},
      },
    });
    const start = process.hrtime.bigint();
    for (let i = 0; i < records.length; i++) task.process(records[i]!);
    task.endOfInput();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  once(); // warm up
  const seconds = Math.min(once(), once(), once());
  return { seconds, outputs };
}

interface RunOutcome {
  seconds: number;
  outputs: number;
  deadLetters: number;
}

/**
 * The pipeline through a PipelineRunner, timed from start() until every result is written: the
 * first stage's group has committed the source's end, and the last stage's group the end of the
 * repartition topic it reads. Its output records are counted after.
 */
async function runPipeline(
  bus: Bus,
  p: Pipeline,
  options: { stateDir: string; changelogs: boolean },
): Promise<RunOutcome> {
  const deadLetterTopic = `${p.name}-dead-letters`;
  const runner = new PipelineRunner({
    bus,
    pipeline: p,
    stateDir: options.stateDir,
    changelogs: options.changelogs,
    deadLetterTopic,
    tickMs: 100,
    // As `kappa up` runs pipelines on the embedded log: one process, one runner per pipeline.
    localExchange: bus.kind === 'embedded',
    // KAPPA_BENCH_LOG=warn (or info): the runtime's log on stderr; stdout is for the results.
    ...(process.env.KAPPA_BENCH_LOG
      ? { logger: pino({ level: process.env.KAPPA_BENCH_LOG }, pino.destination(2)) }
      : {}),
  });
  const groups = runner.stages.map((stage) => stageGroup(p, stage));
  const start = performance.now();
  let seconds: number;
  try {
    await runner.start();
    const started = performance.now();
    let firstDone = 0;
    const first = runner.stages[0]!;
    const last = runner.stages.at(-1)!;
    for (;;) {
      const firstCaughtUp = await caughtUp(bus, groups[0]!, first.input);
      if (firstCaughtUp && !firstDone) firstDone = performance.now();
      if (firstCaughtUp && (await caughtUp(bus, groups.at(-1)!, last.input))) break;
      if (performance.now() - start > RUN_TIMEOUT_MS)
        throw new Error(`${p.name}: not done after ${RUN_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
    }
    seconds = (performance.now() - start) / 1000;
    const at = (t: number) => `${((t - start) / 1000).toFixed(2)} s`;
    progress(
      `  ${p.name}: start() took ${at(started)}; the first stage had committed the source at ${at(firstDone)}, the last its input at ${seconds.toFixed(2)} s`,
    );
  } finally {
    await runner.stop();
  }
  const sink = p.steps.at(-1)!;
  if (sink.kind !== 'toTopic') throw new Error(`${p.name} does not end in a topic`);
  return {
    seconds,
    outputs: await countRecords(bus, sink.topic),
    deadLetters: await countRecords(bus, deadLetterTopic),
  };
}

/**
 * A group has committed the end of every partition of a topic. On Kafka a transaction's commit
 * marker takes the offset after its records: a reader that has read a partition's last record
 * commits that record's offset + 1, one short of the end, when the last thing written is a marker.
 */
async function caughtUp(bus: Bus, group: string, topic: string): Promise<boolean> {
  const ranges = await bus.partitionOffsets(topic);
  const committed = new Map((await bus.committedOffsets(group, topic)).map((o) => [o.partition, o.offset]));
  const slack = bus.kind === 'kafka' && topic.endsWith('-repartition') ? 1 : 0;
  return ranges.every((r) => r.end === 0 || (committed.get(r.partition) ?? 0) >= r.end - slack);
}

/** A run's topics: output, dead letters, repartition and changelogs. */
async function dropTopics(bus: Bus, name: string): Promise<void> {
  for (const topic of await bus.listTopics())
    if (topic.startsWith(`${name}-`) || topic.startsWith(`kappa-${name}-`)) await bus.deleteTopic(topic);
}

/** A Kafka bus on KAPPA_BENCH_KAFKA or a broker started here; null (with a note) if none starts. */
async function openKafka(): Promise<{ bus: Bus; close: () => Promise<void> } | null> {
  const external = process.env.KAPPA_BENCH_KAFKA;
  let broker: Awaited<ReturnType<typeof startKafkaBroker>> | null = null;
  try {
    if (!external) {
      progress('kafka: starting a broker');
      broker = await startKafkaBroker();
    }
  } catch (error) {
    progress(`kafka: skipped, the broker did not start: ${(error as Error).message.split('\n')[0]}`);
    return null;
  }
  const bus = new KafkaBus({
    brokers: [external ?? broker!.bootstrap],
    clientId: 'kappa-bench-e2e',
    replicationFactor: 1,
  });
  return {
    bus,
    close: async () => {
      if (external)
        for (const t of await bus.listTopics()) if (t.startsWith(SOURCE)) await bus.deleteTopic(t);
      await bus.close();
      await broker?.stop();
    },
  };
}

function progress(message: string): void {
  process.stderr.write(`e2e: ${message}\n`);
}
