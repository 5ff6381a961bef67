import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../src/kafka/index.ts';
import { DuckDbViewStore, PostgresViewStore, type StoredRow, type ViewStore } from '../../src/serve/index.ts';
import { decodeViewRecord, runPipeline } from '../../src/stream/index.ts';
import { hasKafka, kafkaBroker } from '../support/kafka.ts';
import { postgresAvailable, startPostgres } from '../support/postgres.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir, uniqueName } from '../support/temp-dir.ts';
import { startUp, startWorker } from './cli-helpers.ts';
import { type Tap, VIEW_KINDS, viewPipelines } from './fixtures/view-pipelines.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'view-pipelines.ts');
const SOURCE = 'taps';
const PARTITIONS = 3;

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const c of cleanups) await c();
});

/** Taps of 6 users in chunks, event time rising, with gaps that cut sessions; then one far ahead per partition. */
function input(seed: number, chunks: number): Array<Array<{ tap: Tap; partition: number }>> {
  const random = seededRandom(seed);
  let ts = 0;
  let n = 0;
  const out: Array<Array<{ tap: Tap; partition: number }>> = [];
  for (let c = 0; c < chunks; c++) {
    const chunk = [];
    for (let i = 0; i < 100; i++, n++) {
      ts += random() < 0.02 ? 400 : Math.floor(random() * 20);
      chunk.push({ tap: { user: `u${Math.floor(random() * 6)}`, ts, v: n % 11 }, partition: n % PARTITIONS });
    }
    out.push(chunk);
  }
  out.push(
    Array.from({ length: PARTITIONS }, (_, partition) => ({
      tap: { user: 'end', ts: ts + 1e6, v: 0 },
      partition,
    })),
  );
  return out;
}

const rowText = (r: StoredRow) =>
  JSON.stringify([r.key, r.windowStart, r.windowEnd, r.kind, Object.entries(r.values).sort()]);

/** What each view must hold: one uninterrupted task's view topic, its latest record per (key, window). */
function oracle(chunks: ReturnType<typeof input>): Map<string, string[]> {
  const pipelines = viewPipelines(SOURCE);
  const records = chunks.flat().map((r) => ({ value: r.tap, partition: r.partition }));
  const out = new Map<string, string[]>();
  for (const kind of VIEW_KINDS) {
    const p = pipelines[kind];
    const step = p.steps.at(-1) as { view: string; topic: string };
    const written =
      runPipeline(p, records, { partitions: PARTITIONS, endOfInput: false }).topics[step.topic] ?? [];
    const latest = new Map<string, StoredRow | null>();
    for (const r of written) {
      const key = Buffer.from(JSON.stringify(r.key));
      const {
        key: k,
        start,
        end,
        row,
      } = decodeViewRecord(key, r.value === null ? null : Buffer.from(JSON.stringify(r.value)));
      latest.set(
        key.toString(),
        row && { key: k, windowStart: start, windowEnd: end, kind: row.kind, values: row.value },
      );
    }
    out.set(
      step.view,
      [...latest.values()]
        .filter((r): r is StoredRow => r !== null)
        .map(rowText)
        .sort(),
    );
  }
  return out;
}

const kill = async (child: ChildProcess) => {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
};

/** A folder with one pipeline file per view kind (re-exporting the fixture's) and a config around them. */
async function workspace(source: string, configYaml: string) {
  const temp = await tempDir('kappa-view-crash-');
  cleanups.push(temp.remove);
  const dir = path.join(temp.dir, 'pipelines');
  await mkdir(dir);
  for (const kind of VIEW_KINDS)
    await writeFile(
      path.join(dir, `${kind}.ts`),
      `import { viewPipelines } from ${JSON.stringify(FIXTURE)};\nexport default viewPipelines(${JSON.stringify(source)}).${kind};\n`,
    );
  const config = path.join(temp.dir, 'kappa.config.yaml');
  await writeFile(config, `${configYaml}pipelines:\n  dir: ${JSON.stringify(dir)}\n`);
  return { root: temp.dir, config };
}

/**
 * Waits until each view holds as many rows, and as many final ones, as the oracle: `counts` answers
 * `SELECT count(*), count(*) FILTER (WHERE kind = 'final')` for a view.
 */
async function settled(expected: Map<string, string[]>, counts: (sql: string) => Promise<[number, number]>) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    let done = true;
    for (const [view, want] of expected) {
      const finals = want.filter((r) => JSON.parse(r)[3] === 'final').length;
      const [all, final] = await counts(
        `SELECT count(*), count(*) FILTER (WHERE kind = 'final') FROM ${view}`,
      ).catch(() => [-1, -1]);
      if (all !== want.length || final !== finals) done = false;
    }
    if (done || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A `counts` for `settled` over `POST /v1/query` of a running kappa up. */
function queryCounts(url: string): (sql: string) => Promise<[number, number]> {
  return async (sql) => {
    const res = await fetch(`${url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
    });
    if (!res.ok) return [-1, -1];
    const row = ((await res.json()) as { rows: unknown[][] }).rows[0]!;
    return [Number(row[0]), Number(row[1])];
  };
}

/** Each view in the store, row for row, against the oracle. */
async function expectViews(store: ViewStore, expected: Map<string, string[]>, seed: number) {
  for (const [view, want] of expected) {
    expect(want.length, view).toBeGreaterThan(20);
    const got = await store.query(`SELECT DISTINCT key FROM ${view}`, { maxRows: 1000, timeoutMs: 10_000 });
    const all: StoredRow[] = [];
    for (const [key] of got.rows)
      all.push(...(await store.range(`${view}__v1`, key, 0, Number.MAX_SAFE_INTEGER)));
    expect(all.map(rowText).sort(), `${view} (seed ${seed})`).toEqual(want);
  }
}

it('views of kappa up killed with kill -9 at 20 random points equal the uninterrupted run’s, row for row', async () => {
  const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
  console.log(`view crash loop: seed ${seed}`);
  const random = seededRandom(seed + 1);
  const { root, config } = await workspace(
    SOURCE,
    `topics:\n  autoCreate: true\n  defaultPartitions: ${PARTITIONS}\n`,
  );
  const data = path.join(root, 'data');
  const chunks = input(seed, 21);
  const expected = oracle(chunks);
  const start = async () => {
    const up = await startUp(['--port', '0', '--data-dir', data, '--config', config]);
    children.add(up.process);
    return up;
  };
  const produce = async (url: string, chunk: (typeof chunks)[number]) => {
    const response = await fetch(`${url}/topics/${SOURCE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: chunk.map((r) => ({ value: r.tap, partition: r.partition })) }),
    });
    expect(response.status).toBe(200);
  };
  for (let round = 0; round < chunks.length - 1; round++) {
    const up = await start();
    await produce(up.url, chunks[round]!);
    await new Promise((r) => setTimeout(r, random() * 800));
    await kill(up.process);
  }
  const up = await start();
  await produce(up.url, chunks.at(-1)!);
  await settled(expected, queryCounts(up.url));
  up.process.kill('SIGTERM');
  await new Promise((r) => up.process.once('exit', r));
  const store = await DuckDbViewStore.open({ file: path.join(data, 'views', 'views.duckdb') });
  try {
    await expectViews(store, expected, seed);
  } finally {
    await store.close();
  }
}, 300_000);

describe.skipIf(!hasKafka || !postgresAvailable())('on Kafka, into PostgreSQL', () => {
  it('two kappa workers writing one PostgreSQL, one killed with kill -9 again and again, keep every view equal to the uninterrupted run’s', async () => {
    const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
    console.log(`view crash loop on Kafka and PostgreSQL: seed ${seed}`);
    const random = seededRandom(seed + 1);
    const broker = await kafkaBroker();
    const postgres = await startPostgres();
    cleanups.push(() => postgres.stop());
    const source = uniqueName('taps');
    const url = `kafka://${broker.bootstrap}`;
    const { root, config } = await workspace(
      source,
      `views:\n  store:\n    kind: postgres\n    url: ${JSON.stringify(postgres.url)}\n`,
    );
    const bus = new KafkaBus({ brokers: [broker.bootstrap] });
    cleanups.push(() => bus.close());
    await bus.createTopic(source, { partitions: PARTITIONS });
    const chunks = input(seed, 7);
    const expected = oracle(chunks);
    const start = async (n: number) => {
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
    // Started together: both set up the view database at once.
    const workers = await Promise.all([start(0), start(1)]);
    const producer = bus.producer();
    const send = (chunk: (typeof chunks)[number]) =>
      producer.send(
        chunk.map((r) => ({
          topic: source,
          partition: r.partition,
          value: Buffer.from(JSON.stringify(r.tap)),
        })),
      );
    for (let round = 0; round < chunks.length - 1; round++) {
      await send(chunks[round]!);
      await new Promise((r) => setTimeout(r, random() * 1500));
      const victim = Math.floor(random() * 2);
      await kill(workers[victim]!);
      workers[victim] = await start(victim);
    }
    await send(chunks.at(-1)!);
    // An API process of its own reads the same database.
    const api = await startUp([
      '--port',
      '0',
      '--bus',
      url,
      '--data-dir',
      path.join(root, 'api'),
      '--config',
      config,
    ]);
    children.add(api.process);
    await settled(expected, queryCounts(api.url));
    for (const p of [...workers, api.process]) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    const store = await PostgresViewStore.open({ url: postgres.url });
    try {
      await expectViews(store, expected, seed);
    } finally {
      await store.close();
    }
  }, 400_000);
});
