// The state store: put-and-commit, get and scan of the lmdb store (and the in-memory one) next to a
// plain JS Map of the same entries; and recovery, a store restored from its changelog on the
// embedded log through the runtime's own restore path, next to a bare consumer reading the same
// changelog. Everything is measured in the same run.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type EmbeddedBus, openEmbeddedBus } from '../src/log/index.ts';
import { LmdbTaskState, MemoryStateStore, type StateStore } from '../src/stream/index.ts';
import { restoreStore } from '../src/stream/runtime/store-restore.ts';
import { seededRandom } from '../test/support/random.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const BENCH = 'state';
const KEY_BYTES = 20;
const VALUE_BYTES = 100;
/** Puts per commit: what a pipeline task writes per transaction. */
const COMMIT_BATCH = 2000;
/** Records per producer send when writing the changelog. */
const SEND_BATCH = 5000;
/** Event-loop delay sampling, ms: a stall of S ms reads as at most S + this. */
const RESOLUTION_MS = 1;
/**
 * A 10-million-key recovery runs (full mode only) when the 1-million one, scaled linearly, predicts
 * it within this; the restore's rate falls as the store grows, so that prediction is a lower bound.
 */
const TEN_MILLION_BUDGET_MS = 180_000;
/** Random gets per round. */
const GETS = 1_000_000;

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-state-'));
  try {
    const rounds = 3; // gets and scans: the median of three
    // Recovery first, in a heap as fresh as a process's that restarts: after the store operations
    // the heap holds their maps' garbage, whose major collections (not the restore) make the
    // longest pauses at 10M keys (72 ms, where a fresh process's longest is 34 ms).
    progress('recovery: warm-up');
    await recovery(path.join(dir, 'warm'), 20_000);
    let last: Recovery | null = null;
    for (const n of quick ? [100_000] : [100_000, 1_000_000]) {
      last = await recovery(path.join(dir, `recovery-${label(n)}`), n);
      yield* recoveryResults(last);
    }
    if (!quick && last !== null) {
      const n = 10_000_000;
      const factor = n / last.keys;
      const predictedMs = last.totalMs * factor;
      const free = await statfs(dir);
      const freeBytes = free.bavail * free.bsize;
      const neededBytes = last.diskBytes * factor * 2;
      // KAPPA_BENCH_10M=1 runs it whatever it is predicted to take.
      if (predictedMs > TEN_MILLION_BUDGET_MS && process.env.KAPPA_BENCH_10M !== '1')
        progress(`recovery 10M: skipped, predicted ${Math.round(predictedMs / 1000)} s`);
      else if (freeBytes < neededBytes)
        progress(
          `recovery 10M: skipped, ${Math.round(freeBytes / 1e9)} GB free of ${Math.round(neededBytes / 1e9)}`,
        );
      else yield* recoveryResults(await recovery(path.join(dir, `recovery-${label(n)}`), n));
    }

    // Warm-up of every code path measured (JIT), on a small store, reported nowhere.
    await drain(storeOps(path.join(dir, 'warm'), 20_000, 'warm', 1));
    for (const n of quick ? [100_000] : [1_000_000])
      yield* storeOps(path.join(dir, 'ops'), n, label(n), rounds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- Store operations -----------------------------------------------------------------------------

/**
 * `n` keys put in batches of 2,000 with a commit after each, then random gets and a full scan, on
 * the lmdb store, the memory store and a Map<string, Buffer> (keys as latin1 strings, as the stores
 * key their own maps). Keys are put in shuffled order, so insertion order is not key order.
 */
async function* storeOps(dir: string, n: number, size: string, rounds: number): AsyncIterable<BenchResult> {
  progress(`store operations ${size}`);
  const order = permutation(n, 1);
  const keys = Array.from({ length: n }, (_, i) => keyOf(order[i]!));
  const values = valuePool();
  const gets = GETS;
  const getIndexes = randomIndexes(gets, n, 2);

  const map = new Map<string, Buffer>();
  const memory = new MemoryStateStore();
  const state = LmdbTaskState.open(path.join(dir, `lmdb-${size}`));
  const lmdb = state.store('bench');
  const stores: Array<[name: string, store: StateStore]> = [
    ['lmdb', lmdb],
    ['memory', memory],
  ];
  try {
    // put-commit
    const mapPut = timeSync(() => {
      for (let i = 0; i < n; i++) map.set(keys[i]!.toString('latin1'), values[i & 63]!);
    });
    for (const [name, store] of stores) {
      const start = performance.now();
      for (let from = 0; from < n; from += COMMIT_BATCH) {
        const to = Math.min(n, from + COMMIT_BATCH);
        for (let i = from; i < to; i++) store.put(keys[i]!, values[i & 63]!);
        await store.commit({ changelogOffset: to, inputOffset: to });
      }
      const ms = performance.now() - start;
      yield result(BENCH, `put-commit-${name}-${size}`, 'records_per_s', n / (ms / 1000), 'rec/s', {
        name: 'js-map-set',
        value: n / (mapPut / 1000),
      });
    }

    // get: synchronous, random committed keys; every lookup converts its Buffer key, as the stores do.
    let sink = 0;
    const mapGet = median(rounds, () =>
      timeSync(() => {
        for (let i = 0; i < gets; i++) sink += map.get(keys[getIndexes[i]!]!.toString('latin1'))!.length;
      }),
    );
    for (const [name, store] of stores) {
      const ms = median(rounds, () =>
        timeSync(() => {
          for (let i = 0; i < gets; i++) sink += store.get(keys[getIndexes[i]!]!)!.length;
        }),
      );
      yield result(BENCH, `get-${name}-${size}`, 'ops_per_s', gets / (ms / 1000), 'ops/s', {
        name: 'js-map-get',
        value: gets / (mapGet / 1000),
      });
    }

    // scan: the baseline is plain Map iteration, in insertion order. It is not ordered, so it does
    // less than range() does (an ordered walk); sorting the Map's keys once and then iterating would
    // hide the sort in a one-off cost, which is unfair the other way, so the unordered walk stands as
    // the floor. One untimed scan of each first: the memory store sorts its keys on the first scan
    // after a write and keeps them, so the timed rounds measure the walk, as lmdb's do.
    for (const [, store] of stores) for (const [, value] of store.range()) sink += value.length;
    let count = 0;
    const mapScan = median(rounds, () =>
      timeSync(() => {
        for (const [, value] of map) {
          sink += value.length;
          count++;
        }
      }),
    );
    check(count === n * rounds, `the Map scan saw ${count} entries of ${n * rounds}`);
    for (const [name, store] of stores) {
      count = 0;
      const ms = median(rounds, () =>
        timeSync(() => {
          for (const [, value] of store.range()) {
            sink += value.length;
            count++;
          }
        }),
      );
      check(count === n * rounds, `the ${name} scan saw ${count} entries of ${n * rounds}`);
      yield result(BENCH, `scan-${name}-${size}`, 'entries_per_s', n / (ms / 1000), 'entries/s', {
        name: 'js-map-iterate',
        value: n / (mapScan / 1000),
      });
    }
    check(sink > 0, 'nothing was read');
  } finally {
    await memory.close();
    await lmdb.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// --- Recovery -------------------------------------------------------------------------------------

interface Recovery {
  keys: number;
  size: string;
  changelogBytes: number;
  /** Changelog and lmdb store on disk together. */
  diskBytes: number;
  readMs: number;
  readMaxStallMs: number;
  coldMs: number;
  coldMaxStallMs: number;
  localMs: number;
  /** Writing the changelog, reading it and both restores: for predicting a larger run. */
  totalMs: number;
}

/**
 * A changelog of `n` distinct keys (one 100-byte value each) on a compacted single-partition topic,
 * restored into a fresh lmdb store, and then again into that store reopened (only the empty tail).
 */
async function recovery(dir: string, n: number): Promise<Recovery> {
  const size = label(n);
  const begin = performance.now();
  const topic = `changelog-${size}`;
  const bus = await openEmbeddedBus({ dataDir: path.join(dir, 'bus'), maintenanceInterval: 0 });
  try {
    progress(`recovery ${size}: writing the changelog`);
    await bus.createTopic(topic, { partitions: 1, compacted: true, fsync: 'never' });
    const producer = bus.producer();
    const order = permutation(n, 3);
    const values = valuePool();
    for (let from = 0; from < n; from += SEND_BATCH) {
      const to = Math.min(n, from + SEND_BATCH);
      const batch = [];
      for (let i = from; i < to; i++)
        batch.push({ topic, partition: 0, key: keyOf(order[i]!), value: values[i & 63]! });
      await producer.send(batch);
    }
    await producer.close();
    const end = (await bus.partitionOffsets(topic))[0]!.end;
    check(end === n, `the changelog ends at ${end}, not ${n}`);
    const changelogBytes = await dirBytes(path.join(dir, 'bus', 'topics', topic));

    // The changelog's pages written out first (as log.ts does), so no read or restore pays for that.
    execFileSync('sync');
    progress(`recovery ${size}: bare consumer`);
    await readChangelog(bus, topic, Math.min(end, 100_000)); // warm-up of the read path
    const read = await watchStalls(() => readChangelog(bus, topic, end));

    progress(`recovery ${size}: cold restore`);
    const storeDir = path.join(dir, 'lmdb');
    let store = LmdbTaskState.open(storeDir).store('bench');
    const cold = await watchStalls(() => restoreStore(bus, store, topic, 0));
    check(cold.value.records === n, `the cold restore read ${cold.value.records} records of ${n}`);
    check(store.meta()?.changelogOffset === end, 'the cold restore did not reach the changelog end');
    check(store.get(keyOf(order[n - 1]!))?.equals(values[(n - 1) & 63]!) === true, 'a key is missing');
    await store.close();

    progress(`recovery ${size}: local restore`);
    store = LmdbTaskState.open(storeDir).store('bench');
    const start = performance.now();
    const local = await restoreStore(bus, store, topic, 0);
    const localMs = performance.now() - start;
    check(local.records === 0 && !local.cleared, `the local restore read ${local.records} records`);
    await store.close();
    const diskBytes = changelogBytes + (await dirBytes(storeDir));
    return {
      keys: n,
      size,
      changelogBytes,
      diskBytes,
      readMs: read.ms,
      readMaxStallMs: read.maxStallMs,
      coldMs: cold.ms,
      coldMaxStallMs: cold.maxStallMs,
      localMs,
      totalMs: performance.now() - begin,
    };
  } finally {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function* recoveryResults(r: Recovery): Iterable<BenchResult> {
  const read = { name: 'bare-consumer-read', value: r.keys / (r.readMs / 1000) };
  yield result(BENCH, `restore-cold-${r.size}`, 'keys_per_s', r.keys / (r.coldMs / 1000), 'keys/s', read);
  yield result(BENCH, `restore-cold-${r.size}`, 'ms', r.coldMs, 'ms', {
    name: 'bare-consumer-read',
    value: r.readMs,
    lowerIsBetter: true,
  });
  const local = result(BENCH, `restore-local-${r.size}`, 'ms', r.localMs, 'ms');
  local.lower_is_better = true;
  yield local;
  // The floor: the keys and values alone, with no record framing or index.
  yield result(BENCH, `changelog-bytes-${r.size}`, 'bytes', r.changelogBytes, 'B', {
    name: 'key-value-bytes',
    value: r.keys * (KEY_BYTES + VALUE_BYTES),
    lowerIsBetter: true,
  });
  yield result(BENCH, `restore-max-stall-${r.size}`, 'max_event_loop_delay_ms', r.coldMaxStallMs, 'ms', {
    name: 'bare-consumer-read',
    value: r.readMaxStallMs,
    lowerIsBetter: true,
  });
}

/** Reads the changelog from offset 0 up to `end` as restoreStore does (same batch size), and drops the records. */
async function readChangelog(bus: EmbeddedBus, topic: string, end: number): Promise<number> {
  const consumer = bus.consumer({ isolation: 'read_committed' });
  let records = 0;
  try {
    await consumer.assign([{ topic, partition: 0, offset: 0 }]);
    while ((consumer.position(topic, 0) ?? 0) < end)
      records += (await consumer.poll({ maxRecords: 5000, timeoutMs: 200 })).length;
  } finally {
    await consumer.close();
  }
  return records;
}

/**
 * Times `work` and the event loop's longest delay meanwhile: the histogram's max, the longest gap
 * between two 1 ms timer ticks, so an upper bound on the longest stall (at 10 ms, a 40 ms stall read 50).
 */
async function watchStalls<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; maxStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  // The histogram counts from its first tick: a stall before that would go unseen.
  await new Promise((resolve) => setTimeout(resolve, RESOLUTION_MS * 3));
  const start = performance.now();
  const value = await work();
  const ms = performance.now() - start;
  // One more tick, so a stall at the very end is recorded too.
  await new Promise((resolve) => setTimeout(resolve, RESOLUTION_MS * 2));
  histogram.disable();
  return { value, ms, maxStallMs: histogram.max / 1e6 };
}

// --- Helpers --------------------------------------------------------------------------------------

/** 20 bytes: `key:` and 16 digits. */
function keyOf(n: number): Buffer {
  return Buffer.from(`key:${n.toString().padStart(KEY_BYTES - 4, '0')}`, 'latin1');
}

/** 64 distinct 100-byte values of pseudo-random bytes. */
function valuePool(): Buffer[] {
  const next = prng(7);
  return Array.from({ length: 64 }, () => {
    const value = Buffer.allocUnsafe(VALUE_BYTES);
    for (let i = 0; i < VALUE_BYTES; i++) value[i] = next() & 0xff;
    return value;
  });
}

/** 0..n-1 shuffled (Fisher-Yates), the same for the same seed. */
function permutation(n: number, seed: number): Int32Array {
  const next = prng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

function randomIndexes(count: number, below: number, seed: number): Int32Array {
  const next = prng(seed);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = next() % below;
  return out;
}

/** Unsigned 32-bit integers from the tests' seeded PRNG. */
function prng(seed: number): () => number {
  const next = seededRandom(seed);
  return () => Math.floor(next() * 2 ** 32);
}

async function drain(results: AsyncIterable<BenchResult>): Promise<void> {
  for await (const line of results) void line;
}

function timeSync(work: () => void): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

/** The median of `rounds` timings. */
function median(rounds: number, time: () => number): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) times.push(time());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  return total;
}

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`bench state: ${message}`);
}

function progress(message: string): void {
  process.stderr.write(`bench state: ${message}\n`);
}
