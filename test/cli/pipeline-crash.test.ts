import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/core/index.ts';
import { KafkaBus } from '../../src/kafka/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { count, pipeline, runPipeline, sum, type TestInput, tumbling } from '../../src/stream/index.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir, uniqueName } from '../support/temp-dir.ts';
import { startUp } from './cli-helpers.ts';

const SRC = path.join(import.meta.dirname, '..', '..', 'src', 'index.ts');
const PARTITIONS = 3;

interface Reading {
  device: string;
  ts: number;
  v: number;
}

/** The pipeline as a file for `kappa up`, and the same pipeline in this process, as the oracle. */
function totals(name: string, source: string, sink: string) {
  const file = `import { count, pipeline, sum, tumbling } from ${JSON.stringify(SRC)};
interface Reading { device: string; ts: number; v: number }
export default pipeline(${JSON.stringify(name)})
  .source<Reading>(${JSON.stringify(source)}, { eventTime: (r) => r.ts, maxOutOfOrder: 100 })
  .keyBy((r) => r.device)
  .window(tumbling(1000))
  .aggregate({ n: count(), total: sum((r) => r.v) })
  .map((w) => ({ device: w.key, start: w.window.start, ...w.value }))
  .toTopic(${JSON.stringify(sink)});
`;
  const oracle = pipeline(name)
    .source<Reading>(source, { eventTime: (r) => r.ts, maxOutOfOrder: 100 })
    .keyBy((r) => r.device)
    .window(tumbling(1000))
    .aggregate({ n: count(), total: sum((r: Reading) => r.v) })
    .map((w) => ({ device: w.key, start: w.window.start, ...w.value }))
    .toTopic(sink);
  return { file, oracle };
}

let up: ChildProcess | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  if (up?.exitCode === null) up.kill('SIGKILL');
  for (const c of cleanups) await c();
});

/**
 * `kappa up` killed with kill -9 at a random point while its keyed pipeline runs, then restarted on
 * the same data: no reading is lost, none is handed to the window stage twice (each stage's output
 * and offsets commit together), and every window's result is written once, exactly as one
 * uninterrupted run computes it (the restarted window stage restores its windows from its local
 * store and its changelog).
 */
async function crashAndRestart(options: {
  /** The config's bus section (empty: the embedded log in the data folder). */
  busYaml: string;
  names: (prefix: string) => string;
  /** The bus, opened by the test once kappa has stopped, to read what it wrote. */
  open: (dataDir: string) => Promise<Bus>;
}): Promise<void> {
  const name = options.names('totals');
  const source = options.names('readings');
  const sink = options.names('totals-out');
  const { file, oracle } = totals(name, source, sink);
  const temp = await tempDir('kappa-pipeline-crash-');
  cleanups.push(temp.remove);
  const dir = path.join(temp.dir, 'pipelines');
  await mkdir(dir);
  await writeFile(path.join(dir, 'totals.ts'), file);
  const config = path.join(temp.dir, 'kappa.config.yaml');
  await writeFile(
    config,
    `${options.busYaml}pipelines:\n  dir: ${JSON.stringify(dir)}\ntopics:\n  autoCreate: true\n  defaultPartitions: ${PARTITIONS}\n`,
  );
  const data = path.join(temp.dir, 'data');
  const start = async () => {
    const started = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
    up = started.process;
    return started.url;
  };

  const random = seededRandom(Number(process.env.KAPPA_CRASH_SEED ?? Date.now() % 100_000));
  const batches: TestInput[][] = [];
  for (let b = 0; b < 30; b++)
    batches.push(
      Array.from({ length: 20 }, (_, i) => {
        const n = b * 20 + i;
        return {
          value: { device: `d${Math.floor(random() * 5)}`, ts: n * 10 + Math.floor(random() * 100), v: n },
          partition: n % PARTITIONS,
        };
      }),
    );
  batches.push(
    Array.from({ length: PARTITIONS }, (_, partition) => ({
      value: { device: 'end', ts: 1e6, v: 0 },
      partition,
    })),
  );
  const produce = async (url: string, batch: TestInput[]) => {
    const response = await fetch(`${url}/topics/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({
        records: batch.map((i) => ({
          value: (i as { value: unknown }).value,
          partition: (i as { partition: number }).partition,
        })),
      }),
    });
    expect(response.status).toBe(200);
  };

  let url = await start();
  const killAfter = 3 + Math.floor(random() * 20);
  for (let b = 0; b < killAfter; b++) await produce(url, batches[b]!);
  // Let the pipeline get somewhere, then kill it mid-stream.
  await new Promise((r) => setTimeout(r, random() * 400));
  up!.kill('SIGKILL');
  await new Promise((r) => up!.once('exit', r));

  url = await start();
  for (let b = killAfter; b < batches.length; b++) await produce(url, batches[b]!);
  const expected = (runPipeline(oracle, batches.flat(), { endOfInput: false }).topics[sink] ?? []).map((r) =>
    JSON.stringify(r.value),
  );
  expect(expected.length).toBeGreaterThan(10);
  // Wait until every window's result is out, then stop kappa and read what it wrote.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await fetch(
      `${url}/v1/topics/${sink}/records?partition=0&offset=0&limit=1000&timeout_ms=1000`,
    ).catch(() => null);
    const page = res?.ok ? ((await res.json()) as { records: Array<{ value: unknown }> }) : { records: [] };
    const rows = page.records.map((r) => JSON.stringify(r.value));
    if (expected.every((e) => rows.includes(e)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  up!.kill('SIGTERM');
  await new Promise((r) => up!.once('exit', r));

  const bus = await options.open(data);
  try {
    const rows = (await readAll(bus, sink)).map((r) => r.value!.toString());
    // Every window exactly once, as the uninterrupted run gives it.
    expect(rows.sort()).toEqual(expected.sort());
    // A reading handed to the window stage twice would count twice: the rows above rule that out.
    // What the window stage has committed is purged from the repartition topic.
    const [first] = await bus.partitionOffsets(`kappa-${name}-keyBy-1-repartition`);
    expect(first!.start).toBeGreaterThan(0);
  } finally {
    await bus.close();
  }
}

async function readAll(bus: Bus, topic: string): Promise<ConsumedRecord[]> {
  const c = bus.consumer({ isolation: 'read_committed' });
  const parts = (await bus.describeTopic(topic)).partitions;
  await c.assign(Array.from({ length: parts }, (_, partition) => ({ topic, partition, offset: 0 })));
  const out: ConsumedRecord[] = [];
  for (let empty = 0; empty < 3; ) {
    const batch = await c.poll({ timeoutMs: 500, maxRecords: 10_000 });
    if (batch.length === 0) empty++;
    else out.push(...batch);
  }
  await c.close();
  return out;
}

it('a keyed pipeline killed with kill -9 and restarted loses and duplicates nothing', async () => {
  await crashAndRestart({
    busYaml: '',
    names: (prefix) => prefix,
    open: (dataDir) => openEmbeddedBus({ dataDir, maintenanceInterval: 0 }),
  });
}, 120_000);

describe.skipIf(!hasKafka)('on Kafka', () => {
  let bootstrap: string;
  beforeAll(async () => {
    bootstrap = (await kafkaBroker()).bootstrap;
  }, 150_000);

  it('a keyed pipeline killed with kill -9 and restarted loses and duplicates nothing', async () => {
    await crashAndRestart({
      busYaml: `bus:\n  kind: kafka\n  brokers: [${JSON.stringify(bootstrap)}]\n`,
      names: uniqueName,
      open: async () => new KafkaBus({ brokers: [bootstrap], clientId: 'kappa-test', replicationFactor: 1 }),
    });
  }, 180_000);
});
