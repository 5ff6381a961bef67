import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { count, PipelineRunner, pipeline, readDeadLetter, sum, tumbling } from '../../src/stream/index.ts';
import { repartitioned } from '../../src/stream/runtime/repartition-record.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { caughtUp } from './caught-up.ts';
import { keyedRunnersContract, readUntil } from './runners-contract.ts';

interface Payment {
  merchant: string;
  amount: number;
  ts: number;
}

const revenue = pipeline('revenue')
  .source<Payment>('payments', { eventTime: (p) => p.ts })
  .keyBy((p) => p.merchant)
  .window(tumbling(1000))
  .aggregate({ n: count(), total: sum((p) => p.amount) })
  .map((w) => ({ merchant: w.key, start: w.window.start, ...w.value }))
  .toTopic('revenue');

describe('pipeline runner on the bus', () => {
  const temp = useTempDir('each', 'kappa-runner-');
  let runner: PipelineRunner | undefined;
  afterEach(async () => runner?.stop());

  it('runs a pipeline over a topic, one task per partition, with dead letters in their topic', async () => {
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 2 });
    const json = (p: Payment) => Buffer.from(JSON.stringify(p));
    await bus.producer().send([
      { topic: 'payments', partition: 0, value: json({ merchant: 'm1', amount: 10, ts: 100 }) },
      { topic: 'payments', partition: 0, value: json({ merchant: 'm1', amount: 5, ts: 900 }) },
      { topic: 'payments', partition: 0, value: Buffer.from('{broken') },
      { topic: 'payments', partition: 0, value: json({ merchant: 'm1', amount: 1, ts: 2500 }) },
      { topic: 'payments', partition: 1, value: json({ merchant: 'm2', amount: 7, ts: 300 }) },
      // The same merchant on the other partition: keyed state must see it too.
      { topic: 'payments', partition: 1, value: json({ merchant: 'm1', amount: 3, ts: 400 }) },
      { topic: 'payments', partition: 1, value: json({ merchant: 'm2', amount: 1, ts: 1200 }) },
    ]);
    runner = new PipelineRunner({ bus, pipeline: revenue, clock: new ManualClock(0) });
    expect(runner.stages.map((s) => [s.input, s.output])).toEqual([
      ['payments', 'kappa-revenue-keyBy-1-repartition'],
      ['kappa-revenue-keyBy-1-repartition', null],
    ]);
    await runner.start();
    const out = (await readUntil(bus, 'revenue', 2)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual(
      expect.arrayContaining([
        { merchant: 'm1', start: 0, n: 3, total: 18 },
        { merchant: 'm2', start: 0, n: 1, total: 7 },
      ]),
    );
    // Once the window has fired, a record for it is late. It is found late after the repartition
    // topic, where the window is, so the letter names that topic: replayed, it goes back there.
    await bus
      .producer()
      .send([{ topic: 'payments', partition: 1, value: json({ merchant: 'm2', amount: 100, ts: 10 }) }]);
    const letters = (await readUntil(bus, 'dead-letters', 2)).map((r) => readDeadLetter(r)!);
    expect(letters.map((l) => [l.reason, l.topic, l.partition, l.offset, l.step])).toEqual(
      expect.arrayContaining([
        ['decode', 'payments', 0, 2, 'source'],
        ['late', 'kappa-revenue-keyBy-1-repartition', expect.any(Number), expect.any(Number), 'window-1'],
      ]),
    );
    expect(JSON.parse(letters.find((l) => l.reason === 'late')!.value!.toString())).toEqual({
      eventTime: 10,
      value: { merchant: 'm2', amount: 100, ts: 10 },
    });
    expect(letters.find((l) => l.reason === 'decode')!.value!.toString()).toBe('{broken');
    await runner.stop();
    runner = undefined;
    await bus.close();
  });

  it('lets windows close when a source partition goes idle, across the repartition topic', async () => {
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('quiet', { partitions: 2 });
    const idle = pipeline('idle')
      .source<Payment>('quiet', { eventTime: (p) => p.ts, idleAfter: 100 })
      .keyBy((p) => p.merchant)
      .window(tumbling(1000))
      .aggregate({ n: count() })
      .map((w) => ({ merchant: w.key, start: w.window.start, ...w.value }))
      .toTopic('quiet-out');
    runner = new PipelineRunner({ bus, pipeline: idle, tickMs: 20 });
    await runner.start();
    // Partition 1 never gets a record: once it is idle, partition 0 alone moves the watermark.
    await bus.producer().send(
      [100, 200, 2500].map((ts) => ({
        topic: 'quiet',
        partition: 0,
        value: Buffer.from(JSON.stringify({ merchant: 'm1', amount: 1, ts })),
      })),
    );
    const out = (await readUntil(bus, 'quiet-out', 1)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual([{ merchant: 'm1', start: 0, n: 2 }]);
    await runner.stop();
    runner = undefined;
    await bus.close();
  });

  it('by default stops waiting for a partition that never gets a record after a minute, and says so', async () => {
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    await bus.createTopic('sparse', { partitions: 2 });
    const sparse = pipeline('sparse')
      .source<Payment>('sparse', { eventTime: (p) => p.ts })
      .keyBy((p) => p.merchant)
      .window(tumbling(1000))
      .aggregate({ n: count() })
      .map((w) => ({ merchant: w.key, ...w.value }))
      .toTopic('sparse-out');
    const clock = new ManualClock(0);
    runner = new PipelineRunner({ bus, pipeline: sparse, tickMs: 20, clock });
    await runner.start();
    await bus.producer().send(
      [100, 2500].map((ts) => ({
        topic: 'sparse',
        partition: 0,
        value: Buffer.from(JSON.stringify({ merchant: 'm1', amount: 1, ts })),
      })),
    );
    // Both partitions are silent past the default idleAfter; partition 0's records still count.
    clock.set(61_000);
    const out = (await readUntil(bus, 'sparse-out', 1)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual([{ merchant: 'm1', n: 1 }]);
    expect(runner.idlePartitions).toContain(1);
    await runner.stop();
    runner = undefined;
    await bus.close();
  });
});

describe('pipeline runner with a local exchange (one runner per pipeline)', () => {
  const temp = useTempDir('each', 'kappa-local-');
  let runner: PipelineRunner | undefined;
  afterEach(async () => runner?.stop());
  const json = (p: Payment) => Buffer.from(JSON.stringify(p));
  const send = (bus: Bus, partition: number, payments: Payment[]) =>
    bus.producer().send(payments.map((p) => ({ topic: 'payments', partition, value: json(p) })));
  const start = async (bus: Bus, localExchange = true, changelogs = true) => {
    runner = new PipelineRunner({
      bus,
      pipeline: revenue,
      clock: new ManualClock(0),
      stateDir: `${temp.dir}/state`,
      localExchange,
      changelogs,
    });
    await runner.start();
    return runner;
  };
  const stop = async () => {
    await runner?.stop();
    runner = undefined;
  };
  const rows = async (bus: Bus, n: number) =>
    (await readUntil(bus, 'revenue', n)).map((r) => JSON.parse(r.value!.toString()));

  it('hands elements to the keyed stage in memory, writing nothing to the repartition topic', async () => {
    const bus = await openEmbeddedBus({ dataDir: `${temp.dir}/log`, maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 2 });
    await send(bus, 0, [
      { merchant: 'm1', amount: 10, ts: 100 },
      { merchant: 'm1', amount: 5, ts: 900 },
      { merchant: 'm1', amount: 1, ts: 2500 },
    ]);
    // The same merchant on the other partition meets the first's in one window.
    await send(bus, 1, [
      { merchant: 'm2', amount: 7, ts: 300 },
      { merchant: 'm1', amount: 3, ts: 400 },
      { merchant: 'm2', amount: 1, ts: 1200 },
    ]);
    await start(bus);
    expect(await rows(bus, 2)).toEqual(
      expect.arrayContaining([
        { merchant: 'm1', start: 0, n: 3, total: 18 },
        { merchant: 'm2', start: 0, n: 1, total: 7 },
      ]),
    );
    const repartition = runner!.stages[0]!.output!;
    expect((await bus.partitionOffsets(repartition)).every((r) => r.end === 0)).toBe(true);
    // A late record's letter points at the source record itself: replayed, it goes through the
    // whole pipeline again.
    await send(bus, 1, [{ merchant: 'm2', amount: 100, ts: 10 }]);
    const [late] = (await readUntil(bus, 'dead-letters', 1)).map((r) => readDeadLetter(r)!);
    expect([late!.reason, late!.topic, late!.partition, late!.offset]).toEqual(['late', 'payments', 1, 3]);
    expect(JSON.parse(late!.value!.toString())).toEqual({ merchant: 'm2', amount: 100, ts: 10 });
    await stop();
    await bus.close();
  });

  it('restarts from its stores and changelogs, and goes on with the windows where they were', async () => {
    const bus = await openEmbeddedBus({ dataDir: `${temp.dir}/log`, maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 2 });
    await start(bus);
    await send(bus, 0, [{ merchant: 'm1', amount: 10, ts: 100 }]);
    await send(bus, 1, [{ merchant: 'm1', amount: 3, ts: 400 }]);
    await caughtUp(bus, runner!);
    await stop();
    // Started again without the local exchange: the same stores and changelogs serve both.
    await start(bus, false);
    await send(bus, 0, [{ merchant: 'm1', amount: 5, ts: 900 }]);
    await caughtUp(bus, runner!);
    await stop();
    await start(bus);
    await send(bus, 0, [{ merchant: 'm1', amount: 1, ts: 2500 }]);
    await send(bus, 1, [{ merchant: 'm1', amount: 1, ts: 2600 }]);
    expect(await rows(bus, 1)).toEqual([{ merchant: 'm1', start: 0, n: 3, total: 18 }]);
    await stop();
    await bus.close();
  });

  it('with changelogs off, starts with state on disk, makes no changelog and starts empty again', async () => {
    const bus = await openEmbeddedBus({ dataDir: `${temp.dir}/log`, maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 1 });
    await start(bus, true, false);
    await send(bus, 0, [{ merchant: 'm1', amount: 10, ts: 100 }]);
    await caughtUp(bus, runner!);
    await stop();
    expect((await bus.listTopics()).filter((t) => t.endsWith('-changelog'))).toEqual([]);
    // What the window held is gone with the changelogs: only what comes after counts.
    await start(bus, true, false);
    await send(bus, 0, [
      { merchant: 'm1', amount: 5, ts: 900 },
      { merchant: 'm1', amount: 1, ts: 2500 },
    ]);
    expect(await rows(bus, 1)).toEqual([{ merchant: 'm1', start: 0, n: 1, total: 5 }]);
    await stop();
    await bus.close();
  });

  it('runs its stages apart while the repartition topic holds records not yet read', async () => {
    const bus = await openEmbeddedBus({ dataDir: `${temp.dir}/log`, maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 2 });
    // What a run through the topic left behind: an element the keyed stage had not read yet.
    const repartition = 'kappa-revenue-keyBy-1-repartition';
    await bus.createTopic(repartition, { partitions: 2 });
    const element = repartitioned('m1', { merchant: 'm1', amount: 4, ts: 200 }, 200);
    await bus.producer().send([{ topic: repartition, ...element }]);
    await start(bus);
    await send(bus, 0, [
      { merchant: 'm1', amount: 10, ts: 100 },
      { merchant: 'm1', amount: 1, ts: 2500 },
    ]);
    await send(bus, 1, [{ merchant: 'm2', amount: 1, ts: 2500 }]);
    expect(await rows(bus, 1)).toEqual([{ merchant: 'm1', start: 0, n: 2, total: 14 }]);
    await stop();
    await bus.close();
  });
});

describe('keyed pipelines over several runners, embedded log', () => {
  const temp = useTempDir('each', 'kappa-runners-');
  keyedRunnersContract(
    () => openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 }),
    (prefix) => prefix,
  );
});
