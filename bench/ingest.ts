// Ingest: CDC rows per second from a pgbench workload into durable records on the bus, against
// Debezium 3.6.1's embedded engine catching up on the same WAL in the same run (it hands events to a
// callback and writes no bus: it does less); the producer SDK over HTTP (records/s, p99 latency from
// send to durable) against raw produce on the same bus in process. --quick: a smaller workload.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../src/core/index.ts';
import { createServer } from '../src/http/index.ts';
import { createProducer, PostgresSource } from '../src/ingest/index.ts';
import { openEmbeddedBus } from '../src/log/index.ts';
import { SchemaRegistry } from '../src/registry/index.ts';
import { startDebezium } from '../test/support/debezium.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BENCH = 'ingest';
const exec = promisify(execFile);
const TABLES = ['pgbench_accounts', 'pgbench_tellers', 'pgbench_branches'];

function progress(message: string): void {
  process.stderr.write(`ingest: ${message}\n`);
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  yield* await cdc(quick);
  yield* await sdk(quick);
}

async function cdc(quick: boolean): Promise<BenchResult[]> {
  const pg = await startPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-ingest-'));
  const pgbench = path.join(path.dirname(pg.psql), 'pgbench');
  const url = new URL(pg.url);
  const args = ['-h', '127.0.0.1', '-p', url.port, '-U', 'kappa', 'postgres'];
  try {
    await exec(pgbench, ['-i', '-q', '-s', '1', ...args]);
    const bus = await openEmbeddedBus({ dataDir: path.join(dir, 'log'), maintenanceInterval: 0 });
    const registry = await SchemaRegistry.open({ bus });
    const source = () =>
      new PostgresSource({
        name: 'bench',
        url: pg.url,
        tables: TABLES,
        slot: 'kappa_bench',
        publication: 'kappa_bench',
        partitions: 4,
        bus,
        registry,
        logger: createLogger({ level: 'warn' }),
        deadLetterTopic: 'dead-letters',
        maxRecordBytes: 1024 * 1024,
        warnRetainedWalBytes: 1024 ** 4,
        snapshotPageRows: 10_000,
      });
    const records = async () => {
      let n = 0;
      for (const t of TABLES)
        for (const r of await bus.partitionOffsets(`bench.public.${t}`)) n += r.end - r.start;
      return n;
    };
    // Both slots made, the snapshot taken, then both stopped: the workload becomes a backlog of WAL
    // that each catches up on from its slot.
    progress('snapshot (Kappa), slots for both');
    let kappa = source();
    await kappa.start();
    await until(async () => kappa.status().phase === 'streaming');
    await kappa.stop();
    const snapshot = await records();
    let debezium = await startDebezium({
      url: pg.url,
      tables: TABLES.map((t) => `public.${t}`).join(','),
      slot: 'debezium_bench',
      publication: 'dbz_bench',
    });
    await debezium.stop();
    const transactions = quick ? 5_000 : 40_000;
    progress(`pgbench: ${transactions} transactions (3 captured row changes each)`);
    await exec(pgbench, ['-n', '-c', '4', '-j', '4', '-t', String(transactions / 4), ...args]);
    const changes = transactions * 3;

    progress('Kappa catches up');
    const kappaStart = performance.now();
    kappa = source();
    await kappa.start();
    await until(async () => (await records()) - snapshot >= changes, 600_000);
    const kappaSeconds = (performance.now() - kappaStart) / 1000;
    await kappa.stop();

    progress('Debezium catches up');
    const debeziumStart = performance.now();
    debezium = await startDebezium({
      url: pg.url,
      tables: TABLES.map((t) => `public.${t}`).join(','),
      slot: 'debezium_bench',
      publication: 'dbz_bench',
    });
    // From its task's start (the JVM's start-up not counted).
    const started = performance.now();
    await until(async () => debezium.events.filter((e) => e.value !== null).length >= changes, 600_000);
    const debeziumSeconds = (performance.now() - started) / 1000;
    progress(`Debezium's JVM and task start took ${Math.round(started - debeziumStart)} ms, not counted`);
    await debezium.stop();
    await registry.close();
    await bus.close();
    return [
      result(BENCH, 'cdc-pgbench', 'rows_per_s', changes / kappaSeconds, 'rows/s', {
        name: 'debezium-embedded-3.6.1',
        value: changes / debeziumSeconds,
      }),
    ];
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function sdk(quick: boolean): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-sdk-'));
  const bus = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
  const server = await createServer({ bus, maxRecordsPerRequest: 10_000 });
  const url = await server.listen(0, '127.0.0.1');
  const n = quick ? 200_000 : 1_000_000;
  const value = (i: number) => ({
    id: i,
    merchant: `m${i % 1000}`,
    amount: (i % 997) / 10,
    ts: 1_700_000_000_000 + i,
  });
  try {
    await bus.createTopic('sdk', { partitions: 4 });
    await bus.createTopic('raw', { partitions: 4 });
    progress(`SDK over HTTP: ${n} records`);
    // The SDK's defaults: 5 ms linger, batches of up to 10,000 records or 4 MiB.
    const producer = createProducer({ url });
    const latencies: number[] = [];
    const window = 20_000;
    const inFlight = new Set<Promise<unknown>>();
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const sent = performance.now();
      const p = producer.send('sdk', { key: `m${i % 1000}`, value: value(i) }).then(() => {
        latencies.push(performance.now() - sent);
        inFlight.delete(p);
      });
      inFlight.add(p);
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await producer.flush();
    await Promise.all(inFlight);
    const sdkRate = n / ((performance.now() - start) / 1000);
    await producer.close();

    progress(`raw produce in process: ${n} records`);
    const raw = bus.producer();
    const rawStart = performance.now();
    for (let at = 0; at < n; at += 5000) {
      const batch = [];
      for (let i = at; i < Math.min(n, at + 5000); i++)
        batch.push({
          topic: 'raw',
          key: Buffer.from(`m${i % 1000}`),
          value: Buffer.from(JSON.stringify(value(i))),
        });
      await raw.send(batch);
    }
    const rawRate = n / ((performance.now() - rawStart) / 1000);
    await raw.close();
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    const p50 = latencies[Math.floor(latencies.length * 0.5)]!;
    return [
      result(BENCH, 'sdk-http', 'records_per_s', sdkRate, 'records/s', {
        name: 'raw-produce-in-process',
        value: rawRate,
      }),
      result(BENCH, 'sdk-http', 'latency_p50', p50, 'ms'),
      result(BENCH, 'sdk-http', 'latency_p99', p99, 'ms'),
    ];
  } finally {
    await server.close();
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function until(check: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('bench ingest: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
