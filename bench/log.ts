// The embedded log against the disk's own limit: appends and sequential reads, each next to a raw
// fs write or read of the same bytes with the same fsync policy, measured in the same run.
import { execFileSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type EmbeddedBus, openEmbeddedBus } from '../src/log/index.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BATCH = 1000;

interface Case {
  valueBytes: number;
  fsync: 'batch' | 'never';
  /** Batches of 1,000 records per round. */
  batches: number;
  /**
   * Partitions the keyed records of each send spread over. Above 1 a send goes through the
   * transaction journal (all or nothing across a crash), as a REST produce request of keyed records does.
   */
  partitions: number;
  rounds: number;
}

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const rounds = quick ? 1 : 5;
  const cases: Case[] = [
    { valueBytes: 100, fsync: 'never', batches: quick ? 300 : 1000, rounds, partitions: 1 },
    { valueBytes: 1024, fsync: 'never', batches: quick ? 100 : 200, rounds, partitions: 1 },
    { valueBytes: 100, fsync: 'batch', batches: quick ? 50 : 200, rounds, partitions: 1 },
    { valueBytes: 1024, fsync: 'batch', batches: quick ? 30 : 100, rounds, partitions: 1 },
    { valueBytes: 100, fsync: 'never', batches: quick ? 300 : 1000, rounds, partitions: 3 },
    { valueBytes: 100, fsync: 'batch', batches: quick ? 50 : 200, rounds, partitions: 3 },
  ];
  for (const c of cases) yield* appendAndRead(c);
}

async function* appendAndRead(c: Case): AsyncIterable<BenchResult> {
  const label = `${c.valueBytes === 1024 ? '1KiB' : `${c.valueBytes}B`}-${c.fsync === 'batch' ? 'fsync-per-batch' : 'nofsync'}${c.partitions > 1 ? `-${c.partitions}-partitions` : ''}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-log-'));
  try {
    const bus = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
    await bus.createTopic('bench', { partitions: c.partitions, fsync: c.fsync });
    const producer = bus.producer();
    const value = Buffer.alloc(c.valueBytes, 'v');
    const batch = Array.from({ length: BATCH }, (_, i) => ({
      topic: 'bench',
      key: Buffer.from(`key-${i % 100}`),
      value,
      ...(c.partitions === 1 ? { partition: 0 } : {}),
    }));
    for (let i = 0; i < 20; i++) await producer.send(batch); // warm-up
    const chunkBytes = (await dirBytes(dir)) / 20;
    // Ours and the raw write take turns, each starting with no dirty pages (so neither pays for the
    // other's writeback); the median of the rounds is reported, as this disk's speed wanders.
    const ours: number[] = [];
    const oursMBps: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < c.rounds; round++) {
      flushPageCache();
      raw.push(await rawWrite(dir, chunkBytes, c.batches, c.fsync));
      flushPageCache();
      const before = await dirBytes(dir);
      const start = performance.now();
      for (let i = 0; i < c.batches; i++) await producer.send(batch);
      const seconds = (performance.now() - start) / 1000;
      ours.push((c.batches * BATCH) / seconds);
      oursMBps.push(((await dirBytes(dir)) - before) / seconds / 1e6);
    }
    const records = c.rounds * c.batches * BATCH;
    yield result('log', `append-${label}`, 'records_per_s', median(ours), 'rec/s');
    yield result('log', `append-${label}`, 'MB_per_s', median(oursMBps), 'MB/s', {
      name: `raw-fs-write-${c.fsync === 'batch' ? 'fsync' : 'nofsync'}`,
      value: median(raw),
    });
    if (c.fsync === 'never' && c.partitions === 1) yield* read(bus, dir, records + 20 * BATCH, label);
    await bus.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function* read(
  bus: EmbeddedBus,
  dir: string,
  total: number,
  label: string,
): AsyncIterable<BenchResult> {
  const consumer = bus.consumer({});
  await consumer.assign([{ topic: 'bench', partition: 0, offset: 0 }]);
  for (let warm = 0; warm < total; )
    warm += (await consumer.poll({ maxRecords: 10_000, maxBytes: 8 * 1024 * 1024, timeoutMs: 0 })).length;
  consumer.seek('bench', 0, 0);
  const start = performance.now();
  let got = 0;
  while (got < total)
    got += (await consumer.poll({ maxRecords: 10_000, maxBytes: 8 * 1024 * 1024, timeoutMs: 0 })).length;
  const seconds = (performance.now() - start) / 1000;
  const bytes = await dirBytes(path.join(dir, 'topics', 'bench'));
  const rawMBps = await rawRead(path.join(dir, 'topics', 'bench', '0'));
  yield result('log', `read-${label}`, 'records_per_s', got / seconds, 'rec/s');
  yield result('log', `read-${label}`, 'MB_per_s', bytes / seconds / 1e6, 'MB/s', {
    name: 'raw-fs-read',
    value: rawMBps,
  });
  await consumer.close();
}

/**
 * The disk's limit for this workload: the same number of same-sized writes, made with the same
 * synchronous write call and fsynced the same way. Returns MB/s.
 */
async function rawWrite(
  dir: string,
  chunkBytes: number,
  count: number,
  fsync: 'batch' | 'never',
): Promise<number> {
  const file = path.join(dir, 'raw.bin');
  const handle: FileHandle = await open(file, 'w');
  const chunk = Buffer.alloc(Math.round(chunkBytes), 1);
  let position = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    writeSync(handle.fd, chunk, 0, chunk.length, position); // the same write call the log makes
    position += chunk.length;
    if (fsync === 'batch') await handle.datasync();
  }
  const seconds = (performance.now() - start) / 1000;
  await handle.close();
  await rm(file);
  return position / seconds / 1e6;
}

async function rawRead(partitionDir: string): Promise<number> {
  const files = (await readdir(partitionDir)).filter((f) => f.endsWith('.log'));
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  let bytes = 0;
  const start = performance.now();
  for (const f of files) {
    const handle = await open(path.join(partitionDir, f), 'r');
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, bytes === 0 ? 0 : null);
      if (bytesRead === 0) break;
      bytes += bytesRead;
    }
    await handle.close();
  }
  return bytes / ((performance.now() - start) / 1000) / 1e6;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.log'))
      total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function flushPageCache(): void {
  execFileSync('sync');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
