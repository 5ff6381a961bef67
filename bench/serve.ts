// Serving: materializer upserts into DuckDB and PostgreSQL (against a plain insert of the same rows
// into a table with no key, in the same run), point lookups over HTTP at concurrency 1 to 256
// (autocannon on loopback, against /healthz of the same server), top-N and SQL aggregates over a
// large view, and the latency from a produce request to the updated row reaching a live subscriber
// (against produce → a bare consumer receiving the record). --quick: smaller views, no PostgreSQL.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import autocannon from 'autocannon';
import pg from 'pg';
import { systemClock } from '../src/core/index.ts';
import { createServer } from '../src/http/index.ts';
import { type Bus, openEmbeddedBus } from '../src/log/index.ts';
import {
  DuckDbViewStore,
  MemoryViewCache,
  PostgresViewStore,
  type StoredRow,
  ViewMaterializer,
  type ViewStore,
  Views,
} from '../src/serve/index.ts';
import {
  count,
  type Pipeline,
  PipelineRunner,
  pipeline,
  session,
  sum,
  type ViewStep,
} from '../src/stream/index.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BENCH = 'serve';
const KEYS = 10_000;
const WINDOW_MS = 60_000;

function progress(message: string): void {
  process.stderr.write(`serve: ${message}\n`);
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-serve-'));
  const bus = await openEmbeddedBus({
    dataDir: path.join(dir, 'log'),
    maintenanceInterval: 0,
    topicDefaults: { fsync: 'never' },
  });
  try {
    const upserts = quick ? 100_000 : 500_000;
    yield* await materializerRates(bus, dir, upserts, quick);
    yield* await lookups(bus, dir, quick);
    const big = quick ? 1_000_000 : 10_000_000;
    yield* await queries(await DuckDbViewStore.open({ file: path.join(dir, 'big.duckdb') }), '', big);
    if (!quick)
      yield* await withPostgres('queries', async (url) =>
        queries(await PostgresViewStore.open({ url }), '-postgres', big),
      );
    yield* await liveLatency(bus, dir, quick ? 100 : 300);
  } finally {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A view topic of `n` rows: KEYS keys, consecutive one-minute windows. */
async function writeViewTopic(bus: Bus, topic: string, n: number): Promise<void> {
  await bus.createTopic(topic, { partitions: 4, compacted: true, fsync: 'never' });
  const producer = bus.producer();
  for (let at = 0; at < n; at += 5000) {
    const batch = [];
    for (let i = at; i < Math.min(n, at + 5000); i++) {
      const key = `k${i % KEYS}`;
      const start = Math.floor(i / KEYS) * WINDOW_MS;
      batch.push({
        topic,
        partition: i % 4,
        key: Buffer.from(JSON.stringify([key, start, start + WINDOW_MS])),
        value: Buffer.from(
          JSON.stringify({
            key,
            start,
            end: start + WINDOW_MS,
            kind: 'final',
            value: { n: i % 97, total: i * 0.5 },
          }),
        ),
      });
    }
    await producer.send(batch);
  }
  await producer.close();
}

function viewStep(view: string): ViewStep {
  return {
    kind: 'toView',
    name: 'toView-1',
    view,
    version: 1,
    table: `${view}__v1`,
    topic: `kappa-view-${view}`,
    retentionMs: null,
    columns: { n: 'integer', total: 'number' },
  };
}

/** Rows per second from a full view topic into the store, start to the last offset committed. */
async function materialize(bus: Bus, store: ViewStore, step: ViewStep, n: number): Promise<number> {
  const m = new ViewMaterializer({
    bus,
    store,
    step,
    pipeline: 'bench',
    deadLetterTopic: 'bench-dead-letters',
  });
  const start = performance.now();
  await m.start();
  for (;;) {
    const offsets = await store.offsets(step.table);
    let done = 0;
    for (const o of offsets.values()) done += o;
    if (done >= n) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - start) / 1000;
  await m.stop();
  return n / seconds;
}

async function materializerRates(bus: Bus, dir: string, n: number, quick: boolean): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  progress(`materializer: writing ${n} view records`);
  await writeViewTopic(bus, 'kappa-view-bench_upserts', n);
  const rows: StoredRow[] = [];
  for (let i = 0; i < n; i++) {
    const start = Math.floor(i / KEYS) * WINDOW_MS;
    rows.push({
      key: `k${i % KEYS}`,
      windowStart: start,
      windowEnd: start + WINDOW_MS,
      kind: 'final',
      values: { n: i % 97, total: i * 0.5 },
    });
  }
  progress('materializer: DuckDB');
  const duckFile = path.join(dir, 'upserts.duckdb');
  const store = await DuckDbViewStore.open({ file: duckFile });
  const rate = await materialize(bus, store, viewStep('bench_upserts'), n);
  await store.close();
  const plain = await duckdbPlainInsert(path.join(dir, 'plain.duckdb'), rows);
  out.push(
    result(BENCH, 'materializer-duckdb', 'rows_per_s', rate, 'rows/s', {
      name: 'duckdb-plain-append',
      value: plain,
    }),
  );
  if (quick) {
    progress('materializer: PostgreSQL skipped in quick mode');
    return out;
  }
  const postgres = await withPostgres('materializer', async (url) => {
    progress('materializer: PostgreSQL');
    const pgStore = await PostgresViewStore.open({ url });
    const pgRate = await materialize(bus, pgStore, viewStep('bench_upserts'), n);
    await pgStore.close();
    const pgPlain = await postgresPlainInsert(url, rows);
    return [
      result(BENCH, 'materializer-postgres', 'rows_per_s', pgRate, 'rows/s', {
        name: 'postgres-plain-insert',
        value: pgPlain,
      }),
    ];
  });
  return [...out, ...postgres];
}

/** `work` against a throwaway PostgreSQL cluster; no figures when it cannot start. */
async function withPostgres(
  what: string,
  work: (url: string) => Promise<BenchResult[]>,
): Promise<BenchResult[]> {
  let server: Awaited<ReturnType<typeof startPostgres>>;
  try {
    server = await startPostgres();
  } catch (error) {
    progress(`${what}: PostgreSQL did not start: ${(error as Error).message.split('\n')[0]}`);
    return [];
  }
  try {
    return await work(server.url);
  } finally {
    await server.stop();
  }
}

/** The same rows appended to a DuckDB table with no key, 10,000 per transaction: the floor. */
async function duckdbPlainInsert(file: string, rows: StoredRow[]): Promise<number> {
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  await c.run(
    'CREATE TABLE t (key VARCHAR, window_start TIMESTAMP, window_end TIMESTAMP, kind VARCHAR, n BIGINT, total DOUBLE)',
  );
  const start = performance.now();
  for (let at = 0; at < rows.length; at += 10_000) {
    await c.run('BEGIN');
    const a = await c.createAppender('t');
    for (const r of rows.slice(at, at + 10_000)) {
      a.appendVarchar(r.key as string);
      a.appendTimestamp(new DuckDBTimestampValue(BigInt(r.windowStart) * 1000n));
      a.appendTimestamp(new DuckDBTimestampValue(BigInt(r.windowEnd) * 1000n));
      a.appendVarchar(r.kind);
      a.appendBigInt(BigInt(r.values.n as number));
      a.appendDouble(r.values.total as number);
      a.endRow();
    }
    a.flushSync();
    a.closeSync();
    await c.run('COMMIT');
  }
  const rate = rows.length / ((performance.now() - start) / 1000);
  c.closeSync();
  db.closeSync();
  return rate;
}

/** The same rows inserted into a PostgreSQL table with no key, 10,000 per statement (unnest). */
async function postgresPlainInsert(url: string, rows: StoredRow[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    'CREATE TABLE plain (key TEXT, window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, kind TEXT, n BIGINT, total DOUBLE PRECISION)',
  );
  const start = performance.now();
  for (let at = 0; at < rows.length; at += 10_000) {
    const chunk = rows.slice(at, at + 10_000);
    await client.query(
      'INSERT INTO plain SELECT k, to_timestamp(ws / 1000.0), to_timestamp(we / 1000.0), kd, n, t FROM unnest($1::TEXT[], $2::DOUBLE PRECISION[], $3::DOUBLE PRECISION[], $4::TEXT[], $5::BIGINT[], $6::DOUBLE PRECISION[]) AS u(k, ws, we, kd, n, t)',
      [
        chunk.map((r) => r.key),
        chunk.map((r) => r.windowStart),
        chunk.map((r) => r.windowEnd),
        chunk.map((r) => r.kind),
        chunk.map((r) => r.values.n),
        chunk.map((r) => r.values.total),
      ],
    );
  }
  const rate = rows.length / ((performance.now() - start) / 1000);
  await client.end();
  return rate;
}

/** Point lookups of random keys through the HTTP API (the cache answers), at several concurrencies. */
async function lookups(bus: Bus, dir: string, quick: boolean): Promise<BenchResult[]> {
  progress('lookups: a view of 10,000 keys');
  const store = await DuckDbViewStore.open({ file: path.join(dir, 'lookups.duckdb') });
  const step = viewStep('bench_lookups');
  await writeViewTopic(bus, step.topic, KEYS * 3);
  // As in `kappa up`: this process materializes the view, so its in-process cache has the latest
  // window of every key the materializer wrote.
  const views = new Views({
    bus,
    store,
    cache: new MemoryViewCache(),
    deadLetterTopic: 'bench-dead-letters',
    materialize: [{ name: 'bench', steps: [step] } as unknown as Pipeline],
  });
  await views.start();
  for (;;) {
    let done = 0;
    for (const o of (await store.offsets(step.table)).values()) done += o;
    if (done >= KEYS * 3) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const server = await createServer({ bus, views, maxConcurrentRequests: 1024 });
  const url = await server.listen(0, '127.0.0.1');
  const out: BenchResult[] = [];
  try {
    const duration = quick ? 3 : 8;
    for (const connections of [1, 16, 64, 256]) {
      const load = async (route: () => string) =>
        autocannon({
          url,
          connections,
          duration,
          requests: [{ setupRequest: (req) => ({ ...req, path: route() }) }],
        });
      await load(() => '/healthz'); // warm-up
      const base = await load(() => '/healthz');
      const got = await load(() => `/v1/views/${step.view}/keys/k${Math.floor(Math.random() * KEYS)}`);
      if (got.non2xx > 0) progress(`WARNING lookups at ${connections}: ${got.non2xx} answers were not 2xx`);
      progress(
        `lookups at ${connections}: ${Math.round(got.requests.average)} req/s, p50 ${got.latency.p50} ms, p99 ${got.latency.p99} ms`,
      );
      out.push(
        result(BENCH, `lookup-c${connections}`, 'requests_per_s', got.requests.average, 'req/s', {
          name: 'healthz',
          value: base.requests.average,
        }),
        // autocannon counts whole milliseconds: under 1 ms reads as 1 here.
        result(BENCH, `lookup-c${connections}`, 'p50_ms', Math.max(1, got.latency.p50), 'ms', {
          name: 'healthz',
          value: Math.max(1, base.latency.p50),
          lowerIsBetter: true,
        }),
        result(BENCH, `lookup-c${connections}`, 'p99_ms', Math.max(1, got.latency.p99), 'ms', {
          name: 'healthz',
          value: Math.max(1, base.latency.p99),
          lowerIsBetter: true,
        }),
      );
    }
  } finally {
    await server.close();
    await views.stop();
    await store.close();
  }
  return out;
}

/** Top-N and a GROUP BY over a view of `n` rows in `store` (closed after), named with `suffix`. */
async function queries(store: ViewStore, suffix: string, n: number): Promise<BenchResult[]> {
  progress(`queries: loading ${n} rows into ${store.kind}`);
  const view = 'bench_big';
  await store.define({
    name: view,
    topic: `kappa-view-${view}`,
    key: 'string',
    columns: [
      { name: 'n', type: 'integer' },
      { name: 'total', type: 'number' },
    ],
    retentionMs: null,
  });
  const per = 100_000;
  for (let at = 0; at < n; at += per) {
    const upserts: StoredRow[] = [];
    for (let i = at; i < Math.min(n, at + per); i++) {
      const start = Math.floor(i / KEYS) * WINDOW_MS;
      upserts.push({
        key: `k${i % KEYS}`,
        windowStart: start,
        windowEnd: start + WINDOW_MS,
        kind: 'final',
        values: { n: (i * 7919) % 1000, total: i * 0.5 },
      });
    }
    await store.apply(view, {
      upserts,
      deletes: [],
      progress: [{ partition: 0, from: at, to: at + upserts.length }],
    });
  }
  const time = async (what: () => Promise<unknown>) => {
    await what();
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await what();
      samples.push(performance.now() - t);
    }
    return samples.sort((a, b) => a - b)[2]!;
  };
  const topMs = await time(() => store.top(view, 'n', 10));
  const aggregateMs = await time(() =>
    store.query(`SELECT key, sum(total) AS total FROM ${view} GROUP BY key ORDER BY total DESC LIMIT 10`, {
      maxRows: 10,
      timeoutMs: 60_000,
    }),
  );
  // The floor: the same aggregate in DuckDB over a plain table of the same rows, no API around it.
  const plainMs = await time(() =>
    store.query(`SELECT count(*) FROM ${view}`, { maxRows: 1, timeoutMs: 60_000 }),
  );
  await store.close();
  const size = `${n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`}${suffix}`;
  progress(`queries over ${size} rows: top-N ${topMs.toFixed(1)} ms, group-by ${aggregateMs.toFixed(1)} ms`);
  return [
    result(BENCH, `top-n-${size}`, 'ms', topMs, 'ms', {
      name: 'count-star',
      value: plainMs,
      lowerIsBetter: true,
    }),
    result(BENCH, `aggregate-${size}`, 'ms', aggregateMs, 'ms', {
      name: 'count-star',
      value: plainMs,
      lowerIsBetter: true,
    }),
  ];
}

/**
 * Produce over HTTP → pipeline (a session per key, a result after every record) → view topic →
 * materializer → live subscriber: the time from the request to the subscriber's event. Against a
 * produce → a bare consumer of the source receiving it, in the same process.
 */
async function liveLatency(bus: Bus, dir: string, samples: number): Promise<BenchResult[]> {
  progress(`live: ${samples} produce → subscriber round trips`);
  await bus.createTopic('bench-taps', { partitions: 1 });
  const p = pipeline('bench_live')
    .source<{ user: string; ts: number }>('bench-taps', { eventTime: 'processing' })
    .keyBy((t) => t.user)
    .window(session('1h'), { emit: { updates: 0 } })
    .aggregate({ n: count(), total: sum((t: { ts: number }) => t.ts) })
    .toView('bench_live');
  const runner = new PipelineRunner({
    bus,
    pipeline: p,
    clock: systemClock,
    tickMs: 50,
    localExchange: true,
  });
  await runner.start();
  const store = await DuckDbViewStore.open({ file: path.join(dir, 'live.duckdb') });
  const views = new Views({
    bus,
    store,
    cache: new MemoryViewCache(),
    deadLetterTopic: 'bench-dead-letters',
    materialize: [p],
  });
  await views.start();
  const server = await createServer({ bus, views });
  const url = await server.listen(0, '127.0.0.1');
  const produce = (user: string) =>
    fetch(`${url}/topics/bench-taps`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: { user, ts: Date.now() } }] }),
    });
  const percentile = (xs: number[], q: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  try {
    const abort = new AbortController();
    const response = await fetch(`${url}/v1/views/bench_live/live`, { signal: abort.signal });
    const reader = response.body!.getReader();
    const waiting = new Map<string, (t: number) => void>();
    let text = '';
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += new TextDecoder().decode(value);
        for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n')) {
          const event = text.slice(0, i);
          text = text.slice(i + 2);
          const m = /"key":"(u\d+)"/.exec(event);
          if (m) waiting.get(m[1]!)?.(performance.now());
        }
      }
    })();
    const ours: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      const user = `u${i}`;
      const seen = new Promise<number>((resolve) => waiting.set(user, resolve));
      const start = performance.now();
      await produce(user);
      const at = await seen;
      if (i >= 10) ours.push(at - start); // the first ones warm up
    }
    abort.abort();
    // The floor: the same produce request, and a consumer of the source topic seeing the record.
    const consumer = bus.consumer({ reset: 'latest' });
    const ends = await bus.partitionOffsets('bench-taps');
    await consumer.assign(ends.map((r) => ({ topic: 'bench-taps', partition: r.partition, offset: r.end })));
    const bare: number[] = [];
    for (let i = 0; i < samples; i++) {
      const start = performance.now();
      await produce(`b${i}`);
      for (let got = 0; got === 0; ) got = (await consumer.poll({ timeoutMs: 1000 })).length;
      bare.push(performance.now() - start);
    }
    await consumer.close();
    progress(`live: p50 ${percentile(ours, 0.5).toFixed(1)} ms, p99 ${percentile(ours, 0.99).toFixed(1)} ms`);
    return [
      result(BENCH, 'produce-to-live-p50', 'ms', percentile(ours, 0.5), 'ms', {
        name: 'produce-to-consumer',
        value: percentile(bare, 0.5),
        lowerIsBetter: true,
      }),
      result(BENCH, 'produce-to-live-p99', 'ms', percentile(ours, 0.99), 'ms', {
        name: 'produce-to-consumer',
        value: percentile(bare, 0.99),
        lowerIsBetter: true,
      }),
    ];
  } finally {
    await server.close();
    await views.stop();
    await runner.stop();
    await store.close();
  }
}
