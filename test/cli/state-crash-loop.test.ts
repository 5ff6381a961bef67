import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, ProducerRecord } from '../../src/core/index.ts';
import { KafkaBus } from '../../src/kafka/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { runPipeline, type TestInput } from '../../src/stream/index.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir, uniqueName } from '../support/temp-dir.ts';
import { startUp, startWorker } from './cli-helpers.ts';
import { type Click, crashPipelines, KINDS, USERS } from './fixtures/crash-pipelines.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'crash-pipelines.ts');
const PARTITIONS = 3;

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const c of cleanups) await c();
});

/** A folder with a config and one pipeline file per kind, each re-exporting the fixture's pipeline. */
async function workspace(prefix: string, busYaml: string) {
  const temp = await tempDir('kappa-crash-loop-');
  cleanups.push(temp.remove);
  const dir = path.join(temp.dir, 'pipelines');
  await mkdir(dir);
  for (const kind of KINDS)
    await writeFile(
      path.join(dir, `${kind}.ts`),
      `import { crashPipelines } from ${JSON.stringify(FIXTURE)};\nexport default crashPipelines(${JSON.stringify(prefix)}).${kind};\n`,
    );
  const config = path.join(temp.dir, 'kappa.config.yaml');
  // A window cache of a few windows per task: most windows live only in lmdb, read back as needed.
  await writeFile(config, `${busYaml}pipelines:\n  dir: ${JSON.stringify(dir)}\n  stateCacheBytes: 2000\n`);
  return { config, root: temp.dir };
}

/**
 * The input, in chunks: clicks of 8 users, event time rising on every partition (so no record is
 * ever late, and one uninterrupted task computes exactly what the distributed run must), with gaps
 * that cut sessions; then one click far ahead on each partition to close every window.
 */
function input(
  seed: number,
  chunks: number,
  source: string,
  partitions = PARTITIONS,
): Array<Array<ProducerRecord & { click: Click }>> {
  const random = seededRandom(seed);
  let ts = 0;
  let n = 0;
  const out: Array<Array<ProducerRecord & { click: Click }>> = [];
  for (let c = 0; c < chunks; c++) {
    const chunk: Array<ProducerRecord & { click: Click }> = [];
    for (let i = 0; i < 120; i++, n++) {
      ts += random() < 0.01 ? 1000 : Math.floor(random() * 15);
      const click = { user: `u${Math.floor(random() * 8)}`, ts, v: n % 17 };
      chunk.push({
        topic: source,
        partition: n % PARTITIONS,
        value: Buffer.from(JSON.stringify(click)),
        click,
      });
    }
    out.push(chunk);
  }
  out.push(
    Array.from({ length: partitions }, (_, partition) => {
      const click = { user: 'end', ts: ts + 1e6, v: 0 };
      return { topic: source, partition, value: Buffer.from(JSON.stringify(click)), click };
    }),
  );
  return out;
}

/** What one uninterrupted task writes to each output topic, as sorted JSON lines. */
function oracle(
  prefix: string,
  chunks: ReturnType<typeof input>,
  partitions = PARTITIONS,
): Map<string, string[]> {
  const pipelines = crashPipelines(prefix);
  const records: TestInput[] = chunks.flat().map((r) => ({ value: r.click, partition: r.partition! }));
  const out = new Map<string, string[]>();
  for (const kind of KINDS) {
    const topic = `${prefix}-${kind}-out`;
    const rows =
      runPipeline(pipelines[kind], records, {
        partitions,
        endOfInput: false,
        tables: { [pipelines.users]: USERS },
      }).topics[topic] ?? [];
    out.set(topic, rows.map((r) => JSON.stringify(r.value)).sort());
  }
  return out;
}

async function readAll(bus: Bus, topic: string): Promise<ConsumedRecord[]> {
  const c = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
  const parts = (await bus.describeTopic(topic)).partitions;
  await c.assign(Array.from({ length: parts }, (_, partition) => ({ topic, partition })));
  const out: ConsumedRecord[] = [];
  for (let empty = 0; empty < 3; ) {
    const batch = await c.poll({ timeoutMs: 500, maxRecords: 10_000 });
    if (batch.length === 0) empty++;
    else out.push(...batch);
  }
  await c.close();
  return out;
}

/** The users table, written before any kappa process starts, so every run joins with all of it. */
async function writeUsers(bus: Bus, prefix: string): Promise<void> {
  const topic = crashPipelines(prefix).users;
  await bus.createTopic(topic, { partitions: 2, compacted: true });
  await bus.producer().send(
    USERS.map((u) => ({
      topic,
      key: Buffer.from(JSON.stringify(u.key)),
      value: Buffer.from(JSON.stringify(u.value)),
    })),
  );
}

/** Waits until every output topic holds at least what the oracle has for it. */
async function settled(bus: Bus, expected: Map<string, string[]>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let done = true;
    for (const [topic, rows] of expected) {
      const got = await readAll(bus, topic).catch(() => []);
      if (got.length < rows.length) done = false;
    }
    if (done || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every output topic holds exactly the oracle's rows: none lost, none twice. */
async function expectExact(bus: Bus, expected: Map<string, string[]>, seed: number): Promise<void> {
  for (const [topic, rows] of expected) {
    expect(rows.length, topic).toBeGreaterThan(5);
    const got = (await readAll(bus, topic)).map((r) => r.value!.toString()).sort();
    expect(got, `${topic} (seed ${seed})`).toEqual(rows);
  }
}

/** Starts `kappa worker` number n on the bus, each with a folder of its own (another machine). */
function workerStarter(url: string, root: string, config: string): (n: number) => Promise<ChildProcess> {
  return async (n) => {
    const w = await startWorker([
      '--bus',
      url,
      '--data-dir',
      path.join(root, `worker-${n}`),
      '--config',
      config,
    ]);
    children.add(w.process);
    return w.process;
  };
}

/** Once the output is all there, stops the workers and checks it row for row. */
async function finish(
  bus: Bus,
  workers: ChildProcess[],
  expected: Map<string, string[]>,
  seed: number,
): Promise<void> {
  await settled(bus, expected, 180_000);
  for (const w of workers) {
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
  }
  await expectExact(bus, expected, seed);
}

const kill = async (child: ChildProcess) => {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
};

it('kappa up killed with kill -9 at 20 random points writes exactly what an uninterrupted run writes', async () => {
  const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
  console.log(`crash loop on the embedded log: seed ${seed}`);
  const random = seededRandom(seed + 1);
  const prefix = 'loop';
  const { config, root } = await workspace(prefix, 'topics:\n  autoCreate: true\n  defaultPartitions: 3\n');
  const data = path.join(root, 'data');
  const before = await openEmbeddedBus({ dataDir: data, maintenanceInterval: 0 });
  await writeUsers(before, prefix);
  await before.close();
  const chunks = input(seed, 21, `${prefix}-clicks`);
  const expected = oracle(prefix, chunks);
  const start = async () => {
    const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
    children.add(up.process);
    return up;
  };
  const produce = async (url: string, chunk: (typeof chunks)[number]) => {
    const response = await fetch(`${url}/topics/${prefix}-clicks`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: chunk.map((r) => ({ value: r.click, partition: r.partition })) }),
    });
    expect(response.status).toBe(200);
  };
  // Each round: start, hand it the next chunk, let it run a random while (sometimes not at all:
  // killed while restoring), kill -9.
  for (let round = 0; round < chunks.length - 1; round++) {
    const up = await start();
    await produce(up.url, chunks[round]!);
    await new Promise((r) => setTimeout(r, random() * 600));
    await kill(up.process);
  }
  const up = await start();
  await produce(up.url, chunks.at(-1)!);
  // The run is read through a bus of the test's own, opened on the data once kappa has stopped.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const page = async (topic: string) => {
      let n = 0;
      for (let offset = 0; ; ) {
        const res = await fetch(
          `${up.url}/v1/topics/${topic}/records?partition=0&offset=${offset}&limit=1000&timeout_ms=200`,
        );
        if (!res.ok) return n;
        const { records } = (await res.json()) as { records: Array<{ offset: number }> };
        n += records.length;
        if (records.length < 1000) return n;
        offset = records.at(-1)!.offset + 1;
      }
    };
    let done = true;
    for (const [topic, rows] of expected) if ((await page(topic)) < rows.length) done = false;
    if (done || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  up.process.kill('SIGTERM');
  await new Promise((r) => up.process.once('exit', r));
  const bus = await openEmbeddedBus({ dataDir: data, maintenanceInterval: 0 });
  try {
    await expectExact(bus, expected, seed);
  } finally {
    await bus.close();
  }
}, 300_000);

describe.skipIf(!hasKafka)('on Kafka', () => {
  it('two kappa workers, one killed with kill -9 again and again, write exactly what an uninterrupted run writes', async () => {
    const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
    console.log(`crash loop on Kafka: seed ${seed}`);
    const random = seededRandom(seed + 1);
    const broker = await kafkaBroker();
    const prefix = uniqueName('loop');
    const url = `kafka://${broker.bootstrap}`;
    const { root, config } = await workspace(prefix, '');
    const bus = new KafkaBus({ brokers: [broker.bootstrap] });
    try {
      await bus.createTopic(`${prefix}-clicks`, { partitions: PARTITIONS });
      await writeUsers(bus, prefix);
      const chunks = input(seed, 9, `${prefix}-clicks`);
      const expected = oracle(prefix, chunks);
      const start = workerStarter(url, root, config);
      const workers = [await start(0), await start(1)];
      const producer = bus.producer();
      // Each round kills one worker at a random moment and starts it again on its own folder, so its
      // partitions move to the other and back, restoring from the changelogs and local stores.
      for (let round = 0; round < chunks.length - 1; round++) {
        await producer.send(chunks[round]!.map(({ click: _c, ...r }) => r));
        await new Promise((r) => setTimeout(r, random() * 1500));
        const victim = Math.floor(random() * 2);
        await kill(workers[victim]!);
        workers[victim] = await start(victim);
      }
      await producer.send(chunks.at(-1)!.map(({ click: _c, ...r }) => r));
      await finish(bus, workers, expected, seed);
    } finally {
      await bus.close();
    }
  }, 400_000);

  it('three workers, one killed and one started later, write exactly what one run writes', async () => {
    const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
    console.log(`rescaling on Kafka: seed ${seed}`);
    const broker = await kafkaBroker();
    const prefix = uniqueName('scale');
    const url = `kafka://${broker.bootstrap}`;
    const { root, config } = await workspace(prefix, '');
    const bus = new KafkaBus({ brokers: [broker.bootstrap] });
    const partitions = 6;
    try {
      await bus.createTopic(`${prefix}-clicks`, { partitions });
      await writeUsers(bus, prefix);
      const chunks = input(seed, 4, `${prefix}-clicks`, partitions);
      const expected = oracle(prefix, chunks, partitions);
      const start = workerStarter(url, root, config);
      const producer = bus.producer();
      const send = (chunk: (typeof chunks)[number]) => producer.send(chunk.map(({ click: _c, ...r }) => r));
      const group = `kappa-pipeline-${prefix}-tumbling`;
      /** Waits until the first stage of every pipeline has committed all of the source. */
      const caughtUp = async () => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const ends = await bus.partitionOffsets(`${prefix}-clicks`);
          const committed = new Map(
            (await bus.committedOffsets(group, `${prefix}-clicks`)).map((o) => [o.partition, o.offset]),
          );
          if (ends.every((r) => (committed.get(r.partition) ?? 0) >= r.end)) return;
          if (Date.now() > deadline) throw new Error('the workers did not catch up');
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const workers = [await start(0), await start(1), await start(2)];
      await send(chunks[0]!);
      await caughtUp();
      await kill(workers[1]!);
      const killedAt = Date.now();
      await send(chunks[1]!);
      await caughtUp();
      // What the closing note reports: until the killed worker's partitions are processed elsewhere.
      console.log(
        `rescaling on Kafka: partitions of a killed worker processed again after ${Date.now() - killedAt} ms`,
      );
      workers[1] = await start(3);
      const startedAt = Date.now();
      await send(chunks[2]!);
      await caughtUp();
      console.log(`rescaling on Kafka: a worker joining took its share within ${Date.now() - startedAt} ms`);
      await send(chunks[3]!);
      await send(chunks[4]!);
      await finish(bus, workers, expected, seed);
    } finally {
      await bus.close();
    }
  }, 400_000);
});
