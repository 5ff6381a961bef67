import { expect, it } from 'vitest';
import { type ConsumedRecord, ManualClock } from '../../src/core/index.ts';
import type { Bus } from '../../src/log/index.ts';
import {
  count,
  PipelineRunner,
  pipeline,
  runPipeline,
  sum,
  type TestInput,
  tumbling,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

interface Reading {
  device: string;
  ts: number;
  v: number;
}

/**
 * Keyed pipelines spread over several runners: two runners in one group share a source whose
 * partitions are not keyed by the pipeline's key, and every window must still hold all of its key's
 * records, as one task over everything computes them. Run against each bus.
 */
export function keyedRunnersContract(open: () => Promise<Bus>, name: (prefix: string) => string): void {
  /** A keyed pipeline over a 4-partition source, its input, and what one task over everything gives. */
  async function setup(bus: Bus) {
    const source = name('readings');
    const sink = name('totals');
    const p = pipeline(name('totals'))
      .source<Reading>(source, { eventTime: (r) => r.ts, maxOutOfOrder: 100 })
      .keyBy((r) => r.device)
      .window(tumbling(1000))
      .aggregate({ n: count(), total: sum((r: Reading) => r.v) })
      .map((w) => ({ device: w.key, start: w.window.start, ...w.value }))
      .toTopic(sink);
    const partitions = 4;
    await bus.createTopic(source, { partitions });
    // Devices on every partition, in time order per partition up to 100 ms; a last record far ahead
    // on each partition moves every watermark past the windows.
    const random = seededRandom(11);
    const input: TestInput[] = [];
    for (let i = 0; i < 400; i++) {
      const ts = i * 20 + Math.floor(random() * 100);
      input.push({ value: { device: `d${Math.floor(random() * 6)}`, ts, v: i }, partition: i % partitions });
    }
    for (let partition = 0; partition < partitions; partition++)
      input.push({ value: { device: 'end', ts: 1_000_000, v: 0 }, partition });
    const expected = (runPipeline(p, input, { endOfInput: false }).topics[sink] ?? []).map((r) => r.value);
    expect(expected.length).toBeGreaterThan(20);
    const send = (items: TestInput[]) =>
      bus.producer().send(
        items.map((i) => ({
          topic: source,
          partition: (i as { partition: number }).partition,
          value: Buffer.from(JSON.stringify((i as { value: unknown }).value)),
        })),
      );
    const runner = () => new PipelineRunner({ bus, pipeline: p, clock: new ManualClock(0), tickMs: 50 });
    // Once each: a key split over two tasks, or a window written twice, shows as an extra row.
    const check = async () => {
      const rows = (await readUntil(bus, sink, expected.length)).map((r) => JSON.parse(r.value!.toString()));
      expect(sorted(rows)).toEqual(sorted(expected));
    };
    return { input, send, runner, check, sink };
  }

  it('two runners share a keyed pipeline, and every key still meets in one window', async () => {
    const bus = await open();
    const { input, send, runner, check } = await setup(bus);
    const runners = [runner(), runner()];
    try {
      await runners[0]!.start();
      await runners[1]!.start();
      await send(input);
      await check();
      expect(runners.every((r) => r.processed > 0)).toBe(true);
    } finally {
      for (const r of runners) await r.stop();
      await bus.close();
    }
  }, 90_000);

  it('a runner joining mid-stream takes partitions over, and every window is still written once', async () => {
    const bus = await open();
    const { input, send, runner, check, sink } = await setup(bus);
    const runners = [runner()];
    try {
      await runners[0]!.start();
      await send(input.slice(0, 200));
      // Some windows have fired and been written before the second runner comes.
      await readUntil(bus, sink, 1);
      runners.push(runner());
      await runners[1]!.start();
      await send(input.slice(200));
      await check();
      expect(runners[1]!.processed).toBeGreaterThan(0);
    } finally {
      for (const r of runners) await r.stop();
      await bus.close();
    }
  }, 120_000);

  it('two runners share joins of two sources with different partition counts, each pair written once', async () => {
    const bus = await open();
    const clicks = name('clicks');
    const views = name('views');
    await bus.createTopic(clicks, { partitions: 4 });
    await bus.createTopic(views, { partitions: 3 });
    const sinks = { interval: name('interval-out'), window: name('window-out') };
    const joins = (kind: 'interval' | 'window') => {
      const p = pipeline(name(`${kind}-joined`));
      const v = p
        .source<Reading>(views, { eventTime: (r) => r.ts, maxOutOfOrder: 100 })
        .keyBy((r) => r.device);
      const c = p
        .source<Reading>(clicks, { eventTime: (r) => r.ts, maxOutOfOrder: 100 })
        .keyBy((r) => r.device);
      const joined =
        kind === 'interval'
          ? c.intervalJoin(v, { lower: '-150ms', upper: '50ms' }, (l, r) => ({ d: l.device, l: l.v, r: r.v }))
          : c.windowJoin(v, tumbling(500), (l, r, w) => ({ d: l.device, l: l.v, r: r.v, w: w.start }));
      // A window after the join: its results flow through one more cut.
      return joined
        .keyBy((j) => j.d)
        .window(tumbling(1000))
        .aggregate({ pairs: count(), sum: sum((j: { l: number; r: number }) => j.l * 1000 + j.r) })
        .map((w) => ({ d: w.key, start: w.window.start, ...w.value }))
        .toTopic(sinks[kind]);
    };
    const random = seededRandom(23);
    const input: TestInput[] = [];
    for (let i = 0; i < 300; i++) {
      const topic = random() < 0.5 ? clicks : views;
      const ts = i * 15 + Math.floor(random() * 100);
      input.push({
        topic,
        value: { device: `d${Math.floor(random() * 4)}`, ts, v: i },
        partition: i % (topic === clicks ? 4 : 3),
      });
    }
    for (const [topic, partitions] of [
      [clicks, 4],
      [views, 3],
    ] as const)
      for (let partition = 0; partition < partitions; partition++)
        input.push({ topic, value: { device: `end-${topic}`, ts: 1_000_000, v: 0 }, partition });
    const runners: PipelineRunner[] = [];
    try {
      for (const kind of ['interval', 'window'] as const) {
        const p = joins(kind);
        const sink = sinks[kind];
        const expected = (runPipeline(p, input, { endOfInput: false }).topics[sink] ?? []).map(
          (r) => r.value,
        );
        expect(expected.length).toBeGreaterThan(10);
        for (let i = 0; i < 2; i++) {
          const r = new PipelineRunner({ bus, pipeline: p, clock: new ManualClock(0), tickMs: 50 });
          runners.push(r);
          await r.start();
        }
        if (kind === 'interval')
          await bus.producer().send(
            input.map((i) => {
              const item = i as { topic: string; partition: number; value: unknown };
              return {
                topic: item.topic,
                partition: item.partition,
                value: Buffer.from(JSON.stringify(item.value)),
              };
            }),
          );
        const rows = (await readUntil(bus, sink, expected.length)).map((r) =>
          JSON.parse(r.value!.toString()),
        );
        expect(sorted(rows)).toEqual(sorted(expected));
      }
    } finally {
      for (const r of runners) await r.stop();
      await bus.close();
    }
  }, 180_000);
}

const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

/** Every partition of a topic from the start, until `n` records (or a minute) and half a second more. */
export async function readUntil(bus: Bus, topic: string, n: number): Promise<ConsumedRecord[]> {
  const c = bus.consumer({});
  const parts = (await bus.describeTopic(topic)).partitions;
  await c.assign(Array.from({ length: parts }, (_, partition) => ({ topic, partition, offset: 0 })));
  const out: ConsumedRecord[] = [];
  const deadline = Date.now() + 60_000;
  while (out.length < n && Date.now() < deadline) out.push(...(await c.poll({ timeoutMs: 200 })));
  // A little longer: more rows than expected (a key split in two) must show up too.
  out.push(...(await c.poll({ timeoutMs: 500 })));
  await c.close();
  return out;
}
