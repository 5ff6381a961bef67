import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appended, openEmbeddedBus } from '../../src/log/index.ts';
import { Metrics } from '../../src/ops/index.ts';
import { count, PipelineRunner, pipeline, tumbling } from '../../src/stream/index.ts';
import { sample } from '../support/prometheus-text.ts';
import { tempDir } from '../support/temp-dir.ts';

const temp = await tempDir('kappa-metrics-');
const bus = await openEmbeddedBus({ dataDir: `${temp.dir}/data` });
afterAll(async () => {
  await bus.close();
  await temp.remove();
});

async function produce(topic: string, n: number, size: number): Promise<void> {
  const producer = bus.producer();
  for (let i = 0; i < n; i += 100)
    await producer.send(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
        topic,
        partition: (i + j) % 3,
        key: null,
        value: Buffer.alloc(size, 1),
      })),
    );
  await producer.close();
}

describe('metrics', () => {
  it('count records and bytes appended per topic, and nothing once stopped', async () => {
    await bus.createTopic('clicks', { partitions: 3 });
    await bus.createTopic('orders', { partitions: 3 });
    expect(appended.hasSubscribers).toBe(false);
    const metrics = new Metrics().start();
    expect(appended.hasSubscribers).toBe(true);
    await produce('clicks', 1234, 100);
    await produce('orders', 10, 1000);
    let text = await metrics.text();
    expect(sample(text, 'kappa_log_appended_records_total', { topic: 'clicks' })).toBe(1234);
    expect(sample(text, 'kappa_log_appended_records_total', { topic: 'orders' })).toBe(10);
    // Every record's value is in the batches, with their framing on top.
    const bytes = sample(text, 'kappa_log_appended_bytes_total', { topic: 'clicks' })!;
    expect(bytes).toBeGreaterThan(1234 * 100);
    expect(bytes).toBeLessThan(1234 * 200);
    metrics.stop();
    expect(appended.hasSubscribers).toBe(false);
    await produce('clicks', 50, 100);
    text = await metrics.text();
    expect(sample(text, 'kappa_log_appended_records_total', { topic: 'clicks' })).toBe(1234);
  });

  it('show a stage’s watermark delay while it runs, and none once it stops (no stalled watermark to page for)', async () => {
    await bus.createTopic('taps', { partitions: 2 });
    const metrics = new Metrics().start();
    const runner = new PipelineRunner({
      bus,
      pipeline: pipeline('taps')
        .source<{ ts: number }>('taps', { eventTime: (t) => t.ts })
        .keyBy(() => 'all')
        .window(tumbling(1000))
        .aggregate({ n: count() })
        .toTopic('taps-out'),
      tickMs: 20,
    });
    try {
      await runner.start();
      await bus
        .producer()
        .send([0, 1].map((partition) => ({ topic: 'taps', partition, value: Buffer.from('{"ts":5000}') })));
      const delay = async () =>
        sample(await metrics.text(), 'kappa_pipeline_watermark_delay_seconds', {
          pipeline: 'taps',
          stage: '0',
        });
      const deadline = Date.now() + 30_000;
      while ((await delay()) === undefined) {
        if (Date.now() > deadline) throw new Error('no watermark delay for stage 0');
        await new Promise((r) => setTimeout(r, 50));
      }
      // Event time 5 s after 1970: the delay is the wall clock's age.
      expect(await delay()).toBeGreaterThan(1e9);
      await runner.stop();
      expect(await delay()).toBeUndefined();
    } finally {
      await runner.stop();
      metrics.stop();
    }
  });

  it('name only metrics Kappa serves in the Grafana dashboard and the alert rules', async () => {
    const ops = path.join(import.meta.dirname, '..', '..', 'ops');
    const metrics = new Metrics().readFrom({
      bus,
      changelogs: () => [],
      views: () => [],
      rowCount: async () => 0,
    });
    const served = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    const dashboard = JSON.parse(await readFile(path.join(ops, 'grafana', 'kappa.json'), 'utf8')) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr),
      await readFile(path.join(ops, 'prometheus', 'alerts.yml'), 'utf8'),
    ];
    const named = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/\bkappa_[a-z_]+/g)].map((m) => m[0].replace(/_(?:bucket|count|sum)$/, '')),
      ),
    );
    expect(named.size).toBeGreaterThan(15);
    expect([...named].filter((n) => !served.has(n))).toEqual([]);
    // Every metric Kappa serves is on the dashboard.
    expect([...served].filter((n) => n.startsWith('kappa_') && !named.has(n))).toEqual([]);
  });
});
