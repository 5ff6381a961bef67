import { rm } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { count, PipelineRunner, pipeline, tumbling } from '../../src/stream/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { caughtUp } from './caught-up.ts';
import { readUntil } from './runners-contract.ts';

interface Tap {
  key: string;
  ts: number;
}

const counts = pipeline('taps')
  .source<Tap>('taps', { eventTime: (t) => t.ts })
  .keyBy((t) => t.key)
  .window(tumbling(10_000))
  .aggregate({ n: count() })
  .map((w) => ({ key: w.key, start: w.window.start, n: w.value.n }))
  .toTopic('tap-counts');

const tap = (key: string, ts: number, partition = 0) => ({
  topic: 'taps',
  partition,
  value: Buffer.from(JSON.stringify({ key, ts })),
});

/** A logger that keeps what it logs, to read the restores' figures. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('pipeline state recovery', () => {
  const temp = useTempDir('each', 'kappa-recovery-');
  let bus: EmbeddedBus | undefined;
  let runner: PipelineRunner | undefined;
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await bus?.close();
    bus = undefined;
  });

  const start = async (
    options: {
      stateDir?: string;
      logger?: pino.Logger;
      clock?: ManualClock;
      checkpointIntervalMs?: number;
    } = {},
  ) => {
    runner = new PipelineRunner({
      bus: bus!,
      pipeline: counts,
      tickMs: 20,
      purgeIntervalMs: 0,
      ...options,
    });
    await runner.start();
    return runner;
  };
  const restart = async (options: Parameters<typeof start>[0] = {}) => {
    await runner!.stop();
    return start(options);
  };

  it('restarts from its local store, reading only the changelog tail, and counts every record once', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('taps', { partitions: 2 });
    const stateDir = path.join(temp.dir, 'state');
    await start({ stateDir });
    await bus.producer().send(Array.from({ length: 60 }, (_, i) => tap(`k${i % 3}`, 1000 + i, i % 2)));
    await caughtUp(bus, runner!);
    const { logger, lines } = capture();
    await restart({ stateDir, logger });
    await bus.producer().send([tap('k0', 5000), tap('k0', 30_000, 0), tap('k0', 30_000, 1)]);
    const out = (await readUntil(bus, 'tap-counts', 3)).map((r) => JSON.parse(r.value!.toString()));
    expect(out.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual([
      { key: 'k0', start: 0, n: 21 },
      { key: 'k1', start: 0, n: 20 },
      { key: 'k2', start: 0, n: 20 },
    ]);
    const restores = lines.filter((l) => l.msg === 'pipeline task restored');
    expect(restores.length).toBeGreaterThan(0);
    // The local stores were current: nothing had to be read from the changelogs.
    expect(restores.map((l) => l.changelogRecords)).toEqual(restores.map(() => 0));
  });

  it('restores exact state from the changelog after retention deleted the input history', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('taps', { partitions: 1 });
    const stateDir = path.join(temp.dir, 'state');
    await start({ stateDir });
    await bus.producer().send(Array.from({ length: 100 }, (_, i) => tap('busy', 1000 + i)));
    await caughtUp(bus, runner!);
    await runner!.stop();
    runner = undefined;
    // History is gone: the source's and the repartition topic's records are deleted, and the local
    // state too (a new machine).
    for (const topic of ['taps', 'kappa-taps-keyBy-1-repartition']) {
      const ranges = await bus.partitionOffsets(topic);
      await bus.deleteRecords(
        topic,
        ranges.map((r) => ({ partition: r.partition, offset: r.end })),
      );
    }
    await rm(stateDir, { recursive: true, force: true });
    const { logger, lines } = capture();
    await start({ stateDir, logger });
    await bus.producer().send([tap('busy', 2000), tap('busy', 3000), tap('busy', 20_000)]);
    const out = (await readUntil(bus, 'tap-counts', 1)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual([{ key: 'busy', start: 0, n: 102 }]);
    const restored = lines.filter((l) => l.msg === 'pipeline task restored' && l.stage === 1);
    // From the changelog: the window's key (and the task's watermarks), not the 100 records.
    expect(restored.map((l) => l.changelogRecords)).toEqual([expect.any(Number)]);
    expect(restored[0]!.changelogRecords as number).toBeLessThan(10);
  });

  it('starts from a checkpoint when the local store is lost, after the changelog was truncated below it', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('taps', { partitions: 1 });
    const stateDir = path.join(temp.dir, 'state');
    // A checkpoint after every transaction, and the changelog cut below each.
    await start({ stateDir, checkpointIntervalMs: 0 });
    await bus.producer().send(Array.from({ length: 50 }, (_, i) => tap(`k${i % 5}`, 1000 + i)));
    await caughtUp(bus, runner!);
    await bus.producer().send([tap('k0', 2000)]);
    await caughtUp(bus, runner!);
    await runner!.stop();
    runner = undefined;
    const changelog = 'kappa-taps-window-1-changelog';
    const [range] = await bus.partitionOffsets(changelog);
    expect(range!.start).toBeGreaterThan(0);
    await rm(stateDir, { recursive: true, force: true });
    const { logger, lines } = capture();
    await start({ stateDir, logger });
    await bus.producer().send([tap('k1', 3000), tap('k9', 20_000)]);
    const out = (await readUntil(bus, 'tap-counts', 5)).map((r) => JSON.parse(r.value!.toString()));
    expect(out.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual([
      { key: 'k0', start: 0, n: 11 },
      { key: 'k1', start: 0, n: 11 },
      { key: 'k2', start: 0, n: 10 },
      { key: 'k3', start: 0, n: 10 },
      { key: 'k4', start: 0, n: 10 },
    ]);
    const restored = lines.filter((l) => l.msg === 'pipeline task restored' && l.stage === 1);
    expect(restored.map((l) => l.fromCheckpoint)).toEqual([true]);
  });

  it('restores from the changelog with state in memory, the same as from disk', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('taps', { partitions: 2 });
    await start();
    await bus.producer().send(Array.from({ length: 40 }, (_, i) => tap(`k${i % 2}`, 1000 + i, i % 2)));
    await caughtUp(bus, runner!);
    await restart();
    await bus.producer().send([tap('k1', 9000, 1), tap('k1', 40_000, 0), tap('k1', 40_000, 1)]);
    const out = (await readUntil(bus, 'tap-counts', 2)).map((r) => JSON.parse(r.value!.toString()));
    expect(out.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual([
      { key: 'k0', start: 0, n: 20 },
      { key: 'k1', start: 0, n: 21 },
    ]);
  });

  it('purges the repartition topic below what its reader committed', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('taps', { partitions: 1 });
    await start({ stateDir: path.join(temp.dir, 'state') });
    await bus.producer().send(Array.from({ length: 50 }, (_, i) => tap(`k${i % 5}`, 1000 + i)));
    await caughtUp(bus, runner!);
    // One more poll of the second stage after its commit does the purge.
    await bus.producer().send([tap('k0', 1500)]);
    await caughtUp(bus, runner!);
    const deadline = Date.now() + 30_000;
    let ranges = await bus.partitionOffsets('kappa-taps-keyBy-1-repartition');
    while (ranges[0]!.start === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      ranges = await bus.partitionOffsets('kappa-taps-keyBy-1-repartition');
    }
    expect(ranges[0]!.start).toBeGreaterThan(50);
  });

  it('counts only what arrived in a processing-time window, across a restart', async () => {
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('clicks', { partitions: 1 });
    const clicks = pipeline('clicks')
      .source<Tap>('clicks', { eventTime: 'processing' })
      .keyBy((t) => t.key)
      .window(tumbling(1000))
      .aggregate({ n: count() })
      .map((w) => ({ key: w.key, start: w.window.start, n: w.value.n }))
      .toTopic('click-counts');
    const clock = new ManualClock(10_000);
    const stateDir = path.join(temp.dir, 'state');
    const click = (key: string) => ({ topic: 'clicks', value: Buffer.from(JSON.stringify({ key, ts: 0 })) });
    runner = new PipelineRunner({ bus, pipeline: clicks, tickMs: 20, clock, stateDir });
    await runner.start();
    await bus.producer().send([click('a'), click('a'), click('a')]);
    await caughtUp(bus, runner);
    await runner.stop();
    // Restarted after the window has ended: its three clicks stay in it, none moves to now's window.
    clock.set(11_500);
    runner = new PipelineRunner({ bus, pipeline: clicks, tickMs: 20, clock, stateDir });
    await runner.start();
    await bus.producer().send([click('a')]);
    await caughtUp(bus, runner);
    clock.set(12_500);
    const out = (await readUntil(bus, 'click-counts', 2)).map((r) => JSON.parse(r.value!.toString()));
    expect(out).toEqual([
      { key: 'a', start: 10_000, n: 3 },
      { key: 'a', start: 11_000, n: 1 },
    ]);
  });
});

describe('internal topics under a steady input', () => {
  const temp = useTempDir('each', 'kappa-bounded-');

  it('stay bounded: repartition records are purged, expired windows tombstoned and compacted away', async () => {
    // Small segments and no tombstone retention, so compaction and purges show within a test.
    const bus = await openEmbeddedBus({
      dataDir: path.join(temp.dir, 'log'),
      maintenanceInterval: 0,
      topicDefaults: { segmentBytes: 16 * 1024, tombstoneRetention: 0, fsync: 'never' },
    });
    await bus.createTopic('taps', { partitions: 1 });
    const runner = new PipelineRunner({
      bus,
      pipeline: counts,
      tickMs: 20,
      purgeIntervalMs: 0,
      stateDir: path.join(temp.dir, 'state'),
    });
    await runner.start();
    const internal = ['kappa-taps-keyBy-1-repartition', 'kappa-taps-window-1-changelog'];
    const size = (topic: string) => bus.partitionLogs(topic).reduce((n, p) => n + p.sizeBytes, 0);
    const sizes: number[] = [];
    try {
      for (let round = 0; round < 12; round++) {
        // Every round: 200 records over 20 keys in a new 10 s window; the round before closes.
        await bus
          .producer()
          .send(Array.from({ length: 200 }, (_, i) => tap(`k${i % 20}`, round * 10_000 + i)));
        await caughtUp(bus, runner);
        await bus.runMaintenance();
        sizes.push(internal.reduce((n, t) => n + size(t), 0));
      }
      const source = size('taps');
      // The source keeps everything; what the pipeline keeps for itself does not grow with it.
      expect(sizes.at(-1)!).toBeLessThan(sizes[3]! * 2);
      expect(sizes.at(-1)!).toBeLessThan(source);
    } finally {
      await runner.stop();
      await bus.close();
    }
  });
});
