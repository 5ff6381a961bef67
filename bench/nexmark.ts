// Nexmark q0, q1, q2, q3, q5, q7, q8, q11 and q12: events/s of each Kappa pipeline over pre-generated events
// (Avro) read from the embedded log, on one core, against a hand-written TypeScript loop computing the same
// result over the same decoded events (the framework's overhead).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ConsumedRecord, ManualClock } from '../src/core/index.ts';
import { openEmbeddedBus } from '../src/log/index.ts';
import { Metrics } from '../src/ops/index.ts';
import { PipelineTask } from '../src/stream/index.ts';
import { generateNexmark, maxDisorder } from './nexmark/generator.ts';
import type { Bid, NexmarkEvent } from './nexmark/model.ts';
import { nexmarkQueries } from './nexmark/queries.ts';
import { bidSerde, nexmarkSerde, q1Serde, q2Serde } from './nexmark/serde.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const options = { seed: 7, events: quick ? 200_000 : 1_000_000, rate: 10_000, outOfOrderGroup: 50 };
  progress(`generating ${options.events} events`);
  const events = generateNexmark(options);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-nexmark-'));
  const bus = await openEmbeddedBus({
    dataDir: dir,
    maintenanceInterval: 0,
    topicDefaults: { fsync: 'never' },
  });
  try {
    await bus.createTopic('nexmark', { partitions: 1 });
    const producer = bus.producer();
    for (let i = 0; i < events.length; i += 5_000)
      await producer.send(
        events
          .slice(i, i + 5_000)
          .map((e) => ({ topic: 'nexmark', partition: 0, value: nexmarkSerde.encode(e) })),
      );
    const records = await readAll(bus);
    const queries = nexmarkQueries('nexmark', maxDisorder(options));
    for (const name of ['q0', 'q1', 'q2', 'q3', 'q5', 'q7', 'q8', 'q11', 'q12']) {
      progress(name);
      const kappa = best(() => runKappa(queries[name]!, records));
      const kappaOutputs = sunk;
      const loop = best(() => HAND_WRITTEN[name]!(records));
      // The same result on both sides, as far as a count of output records tells.
      if (sunk !== kappaOutputs)
        progress(`${name}: the pipeline wrote ${kappaOutputs} records, the hand-written loop ${sunk}`);
      yield result('nexmark', name, 'events_per_s', records.length / kappa, 'ev/s', {
        name: 'hand-written-loop',
        value: records.length / loop,
      });
      // With Prometheus metrics kept, as kappa up keeps them (the task's step counts are always kept).
      const metrics = new Metrics().start();
      const withMetrics = best(() => runKappa(queries[name]!, records));
      metrics.stop();
      yield result('nexmark', `${name}-metrics-cost`, 'events_per_s', records.length / withMetrics, 'ev/s', {
        name: 'metrics-off',
        value: records.length / kappa,
      });
    }
  } finally {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(bus: Awaited<ReturnType<typeof openEmbeddedBus>>): Promise<ConsumedRecord[]> {
  const consumer = bus.consumer({});
  await consumer.assign([{ topic: 'nexmark', partition: 0, offset: 0 }]);
  const out: ConsumedRecord[] = [];
  for (;;) {
    const batch = await consumer.poll({ maxRecords: 10_000, maxBytes: 16 * 1024 * 1024, timeoutMs: 200 });
    if (batch.length === 0) break;
    for (const r of batch) out.push(r);
  }
  await consumer.close();
  return out;
}

/** The pipeline over the records, as its task runs them; processing time follows event time (for q12). */
function runKappa(pipeline: ReturnType<typeof nexmarkQueries>[string], records: ConsumedRecord[]): number {
  const clock = new ManualClock(0);
  const task = new PipelineTask(pipeline, {
    partitions: [0],
    clock,
    output: {
      send: (_topic, _key, value) => {
        if (value !== null) sink(value);
      },
      deadLetter: () => {},
    },
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < records.length; i++) {
    if (pipeline.source.processingTime && i % 1000 === 0) {
      clock.set(nexmarkSerde.decode(records[i]!.value!).dateTime);
      task.tick();
    }
    task.process(records[i]!);
  }
  task.endOfInput();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return seconds;
}

/** Where both sides' output goes: counted, not kept, so neither pays for holding it. */
let sunk = 0;
function sink(value: Buffer): void {
  sunk += value.length > 0 ? 1 : 0;
}

/** The fastest of three runs after a warm-up; `sunk` is left at one run's output count. */
function best(fn: () => number): number {
  const run = () => {
    sunk = 0;
    return fn();
  };
  run(); // warm up
  return Math.min(run(), run(), run());
}

const parse = (r: ConsumedRecord): NexmarkEvent => nexmarkSerde.decode(r.value!);
const time = (fn: () => unknown): number => {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
};

/** The same queries as plain loops over the decoded events: what a person would write by hand. */
const HAND_WRITTEN: Record<string, (records: ConsumedRecord[]) => number> = {
  q0: (records) =>
    time(() => {
      for (const r of records) {
        const e = parse(r);
        if (e.type === 'bid') sink(bidSerde.encode(e));
      }
    }),
  q1: (records) =>
    time(() => {
      for (const r of records) {
        const e = parse(r);
        if (e.type === 'bid')
          sink(
            q1Serde.encode({
              auction: e.auction,
              bidder: e.bidder,
              price: Math.round(e.price * 0.908 * 100) / 100,
              dateTime: e.dateTime,
            }),
          );
      }
    }),
  q2: (records) =>
    time(() => {
      for (const r of records) {
        const e = parse(r);
        if (e.type === 'bid' && e.auction % 123 === 0)
          sink(q2Serde.encode({ auction: e.auction, price: e.price }));
      }
    }),
  q3: (records) =>
    time(() => {
      // A symmetric hash join, as the pipeline's regular join keeps both sides.
      const persons = new Map<number, { name: string; city: string; state: string }>();
      const auctions = new Map<number, number[]>();
      const out = (p: { name: string; city: string; state: string }, id: number) =>
        sink(Buffer.from(JSON.stringify({ name: p.name, city: p.city, state: p.state, id })));
      for (const r of records) {
        const e = parse(r);
        if (e.type === 'person' && (e.state === 'OR' || e.state === 'ID' || e.state === 'CA')) {
          persons.set(e.id, e);
          for (const id of auctions.get(e.id) ?? []) out(e, id);
        } else if (e.type === 'auction' && e.category === 10) {
          let list = auctions.get(e.seller);
          if (!list) auctions.set(e.seller, (list = []));
          list.push(e.id);
          const p = persons.get(e.seller);
          if (p) out(p, e.id);
        }
      }
    }),
  q8: (records) =>
    time(() => {
      const windows = new Map<number, { persons: Map<number, string>; sellers: Set<number> }>();
      for (const r of records) {
        const e = parse(r);
        if (e.type === 'bid') continue;
        const start = Math.floor(e.dateTime / 10_000) * 10_000;
        let w = windows.get(start);
        if (!w) windows.set(start, (w = { persons: new Map(), sellers: new Set() }));
        if (e.type === 'person') w.persons.set(e.id, e.name);
        else w.sellers.add(e.seller);
      }
      for (const [start, w] of windows)
        for (const [id, name] of w.persons)
          if (w.sellers.has(id)) sink(Buffer.from(JSON.stringify({ id, name, start })));
    }),
  q5: (records) =>
    time(() => {
      const counts = new Map<number, Map<number, number>>();
      for (const r of records) {
        const e = parse(r);
        if (e.type !== 'bid') continue;
        for (let start = Math.floor(e.dateTime / 2000) * 2000 - 8000; start <= e.dateTime; start += 2000) {
          let byAuction = counts.get(start);
          if (!byAuction) counts.set(start, (byAuction = new Map()));
          byAuction.set(e.auction, (byAuction.get(e.auction) ?? 0) + 1);
        }
      }
      for (const [start, byAuction] of counts) {
        const top = Math.max(...byAuction.values());
        for (const [auction, num] of byAuction)
          if (num === top) sink(Buffer.from(JSON.stringify({ auction, num, start })));
      }
    }),
  q7: (records) =>
    time(() => {
      const best = new Map<number, Bid[]>();
      for (const r of records) {
        const e = parse(r);
        if (e.type !== 'bid') continue;
        const w = Math.floor(e.dateTime / 10_000);
        const current = best.get(w);
        if (!current || e.price > current[0]!.price) best.set(w, [e]);
        else if (e.price === current[0]!.price) current.push(e);
      }
      for (const bids of best.values())
        for (const b of bids)
          sink(
            Buffer.from(
              JSON.stringify({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime }),
            ),
          );
    }),
  q11: (records) =>
    time(() => {
      const times = new Map<number, number[]>();
      for (const r of records) {
        const e = parse(r);
        if (e.type !== 'bid') continue;
        let list = times.get(e.bidder);
        if (!list) times.set(e.bidder, (list = []));
        list.push(e.dateTime);
      }
      for (const [bidder, list] of times) {
        list.sort((a, b) => a - b);
        let start = list[0]!;
        let n = 0;
        for (let i = 0; i < list.length; i++) {
          if (i > 0 && list[i]! - list[i - 1]! > 10_000) {
            sink(Buffer.from(JSON.stringify({ bidder, bids: n, start, end: list[i - 1]! + 10_000 })));
            start = list[i]!;
            n = 0;
          }
          n++;
        }
        sink(Buffer.from(JSON.stringify({ bidder, bids: n, start, end: list.at(-1)! + 10_000 })));
      }
    }),
  q12: (records) =>
    time(() => {
      const counts = new Map<string, number>();
      for (const r of records) {
        const e = parse(r);
        if (e.type !== 'bid') continue;
        const key = `${e.bidder}|${Math.floor(e.dateTime / 10_000) * 10_000}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [k, n] of counts) sink(Buffer.from(JSON.stringify({ key: k, bids: n })));
    }),
};

function progress(message: string): void {
  process.stderr.write(`nexmark: ${message}\n`);
}
