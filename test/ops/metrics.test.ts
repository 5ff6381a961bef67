import { afterAll, describe, expect, it } from 'vitest';
import { appended, openEmbeddedBus } from '../../src/log/index.ts';
import { Metrics } from '../../src/ops/index.ts';
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
});
