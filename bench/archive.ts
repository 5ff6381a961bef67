// History: the archiver's throughput on 1 KiB records (against the log's own append rate for the
// same records, measured in the same run: archiving must keep up), bytes per record once compressed,
// replay from the archive against reading the same records from the log, and the time to backfill a
// view from history (a pipeline read fromArchive after the log lost everything, against the same
// pipeline reading the log).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  Archiver,
  historyConsumer,
  ParquetFiles,
  readArchivedPartition,
  readManifest,
} from '../src/archive/index.ts';
import { type Bus, openEmbeddedBus } from '../src/log/index.ts';
import { DuckDbViewStore, MemoryViewCache, Views } from '../src/serve/index.ts';
import { FolderStore, type ObjectStore } from '../src/storage/index.ts';
import { count, PipelineRunner, pipeline, sum, tumbling } from '../src/stream/index.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BENCH = 'archive';
const PARTITIONS = 4;

function progress(message: string): void {
  process.stderr.write(`archive: ${message}\n`);
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-archive-'));
  const bus = await openEmbeddedBus({ dataDir: path.join(dir, 'log'), maintenanceInterval: 0 });
  const store = await FolderStore.open(path.join(dir, 'archive'));
  const files = new ParquetFiles();
  try {
    yield* archiving(bus, store, files, quick ? 50_000 : 300_000);
    yield* backfill(bus, store, files, dir, quick ? 100_000 : 1_000_000);
  } finally {
    await files.close();
    await store.close();
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A 1 KiB JSON record as an app sends it: a few repeating fields and a part that does not repeat. */
function event(i: number): Buffer {
  // 225 random bytes (300 in base64): a trace id, a signature, what does not compress.
  const noise = Buffer.alloc(225);
  let x = (i + 1) * 2654435761;
  for (let j = 0; j < noise.length; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    noise[j] = x & 0xff;
  }
  const body = {
    id: i,
    user: `user-${i % 5000}`,
    country: ['NL', 'DE', 'FR', 'US', 'BR'][i % 5],
    amount: (i % 10_000) / 100,
    ts: 1_750_000_000_000 + i,
    agent:
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
    trace: noise.toString('base64'),
  };
  const text = JSON.stringify(body);
  return Buffer.from(text.padEnd(1024, ' '));
}

async function* archiving(
  bus: Bus,
  store: ObjectStore,
  files: ParquetFiles,
  n: number,
): AsyncIterable<BenchResult> {
  await bus.createTopic('events', { partitions: PARTITIONS });
  const producer = bus.producer();
  progress(`appending ${n} 1 KiB records (fsync per batch, the default)`);
  const batch = 1000;
  let appendBytes = 0;
  const appendStart = performance.now();
  for (let i = 0; i < n; i += batch) {
    const records = Array.from({ length: batch }, (_, j) => {
      const value = event(i + j);
      appendBytes += value.length;
      return {
        topic: 'events',
        partition: (i + j) % PARTITIONS,
        key: Buffer.from(`k${(i + j) % 5000}`),
        value,
      };
    });
    await producer.send(records);
  }
  const appendSeconds = (performance.now() - appendStart) / 1000;
  await producer.close();
  const appendRate = n / appendSeconds;
  yield result(BENCH, 'append-1KiB', 'records_per_s', appendRate, 'rec/s');

  // Each measured alone: the appends' writeback is done before the archiver starts.
  execFileSync('sync');
  progress('archiving them');
  const archiver = new Archiver({ bus, store, files, topics: ['events'], everyMs: 60_000 });
  const start = performance.now();
  await archiver.archiveOnce();
  const seconds = (performance.now() - start) / 1000;
  let archived = 0;
  let stored = 0;
  for (let p = 0; p < PARTITIONS; p++)
    for (const f of (await readManifest(store, 'events', p))!.files) {
      archived += f.records;
      stored += f.bytes;
    }
  if (archived !== n) throw new Error(`archived ${archived} of ${n} records`);
  yield result(BENCH, 'archive-1KiB', 'records_per_s', n / seconds, 'rec/s', {
    name: 'log-append-1KiB',
    value: appendRate,
  });
  yield result(BENCH, 'archive-1KiB', 'MB_per_s', appendBytes / seconds / 1e6, 'MB/s');
  yield result(BENCH, 'archive-1KiB', 'bytes_per_record', stored / n, 'B', {
    name: 'record-bytes',
    value: appendBytes / n,
    lowerIsBetter: true,
  });

  progress('replaying them from the archive and from the log');
  // The log as a consumer reads it at its fastest: large polls over every partition.
  const fromLog = async () => {
    const consumer = bus.consumer({});
    await consumer.assign(
      Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'events', partition, offset: 0 })),
    );
    let got = 0;
    while (got < n)
      got += (await consumer.poll({ maxRecords: 10_000, maxBytes: 8 * 1024 * 1024, timeoutMs: 0 })).length;
    await consumer.close();
    return got;
  };
  const fromArchive = async () => {
    let got = 0;
    for (let p = 0; p < PARTITIONS; p++)
      for await (const records of readArchivedPartition(
        store,
        files,
        (await readManifest(store, 'events', p))!,
      ))
        got += records.length;
    return got;
  };
  const time = async (read: () => Promise<number>) => {
    const t = performance.now();
    const got = await read();
    if (got !== n) throw new Error(`read ${got} of ${n} records`);
    return n / ((performance.now() - t) / 1000);
  };
  execFileSync('sync');
  await fromLog(); // warm both: the page cache, the reader's code
  await fromArchive();
  const logRate = await time(fromLog);
  const archiveRate = await time(fromArchive);
  yield result(BENCH, 'replay-1KiB', 'records_per_s', archiveRate, 'rec/s', {
    name: 'read-the-log',
    value: logRate,
  });
}

/** Seconds until a pipeline into a view has read all of `topic` and the view holds it all. */
async function buildView(
  bus: Bus,
  store: ObjectStore,
  files: ParquetFiles,
  dir: string,
  name: string,
  fromArchive: boolean,
): Promise<{ seconds: number; rows: number }> {
  const p = pipeline(name)
    .source<{ user: string; ts: number; v: number }>('clicks', { eventTime: (e) => e.ts, fromArchive })
    .keyBy((e) => e.user)
    .window(tumbling(60_000))
    .aggregate({ n: count(), total: sum((e) => e.v) })
    .toView(name.replaceAll('-', '_'));
  const views = await DuckDbViewStore.open({ file: path.join(dir, `${name}.duckdb`) });
  const runner = new PipelineRunner({
    bus,
    pipeline: p,
    stateDir: path.join(dir, `state-${name}`),
    localExchange: true,
    history: (o) => historyConsumer(o, { bus, store, files }),
  });
  const served = new Views({
    bus,
    store: views,
    cache: new MemoryViewCache(),
    deadLetterTopic: 'dead-letters',
    materialize: [p],
  });
  const start = performance.now();
  await runner.start();
  await served.start();
  const view = name.replaceAll('-', '_');
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const [v] = await served.versions.list(view).catch(() => [undefined]);
    if (v && v.lag === 0 && v.rows > 0) break;
  }
  const seconds = (performance.now() - start) / 1000;
  const rows = await served.rowCount(view);
  await served.stop();
  await runner.stop();
  await views.close();
  return { seconds, rows };
}

async function* backfill(
  bus: Bus,
  store: ObjectStore,
  files: ParquetFiles,
  dir: string,
  n: number,
): AsyncIterable<BenchResult> {
  await bus.createTopic('clicks', { partitions: PARTITIONS, fsync: 'never' });
  progress(`appending ${n} click events`);
  const producer = bus.producer();
  for (let i = 0; i < n; i += 5000)
    await producer.send(
      Array.from({ length: 5000 }, (_, j) => {
        const k = i + j;
        const value = { user: `u${k % 10_000}`, ts: 1_750_000_000_000 + k * 10, v: k % 100 };
        return { topic: 'clicks', key: Buffer.from(value.user), value: Buffer.from(JSON.stringify(value)) };
      }),
    );
  await producer.close();
  progress('building the view from the log');
  const log = await buildView(bus, store, files, dir, 'from-log', false);
  progress('archiving, then deleting the whole log');
  await new Archiver({ bus, store, files, topics: ['clicks'], everyMs: 60_000 }).archiveOnce();
  const ranges = await bus.partitionOffsets('clicks');
  await bus.deleteRecords(
    'clicks',
    ranges.map((r) => ({ partition: r.partition, offset: r.end })),
  );
  progress('backfilling the view from the archive');
  const archive = await buildView(bus, store, files, dir, 'from-archive', true);
  if (archive.rows !== log.rows)
    throw new Error(`the views differ: ${archive.rows} rows, ${log.rows} from the log`);
  yield result(BENCH, `backfill-view-${n / 1000}k-events`, 'seconds', archive.seconds, 's', {
    name: 'same-view-from-the-log',
    value: log.seconds,
    lowerIsBetter: true,
  });
  yield result(BENCH, `backfill-view-${n / 1000}k-events`, 'events_per_s', n / archive.seconds, 'ev/s');
}
