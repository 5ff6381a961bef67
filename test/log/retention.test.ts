import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open, readAll } from './log-helpers.ts';

describe('retention', () => {
  const temp = useTempDir('each');

  const record = (i: number, timestamp: number) => ({
    topic: 't',
    value: Buffer.from(`r${i}`.padEnd(100, '.')),
    timestamp,
  });

  it('deletes whole segments older than the retention time, never the active one', async () => {
    const clock = new ManualClock(10_000_000);
    const bus = await open(temp.dir, { clock });
    await bus.createTopic('t', { partitions: 1, segmentBytes: 2048, retention: '1h' });
    const producer = bus.producer();
    for (let i = 0; i < 100; i++) await producer.send([record(i, i < 60 ? 1_000 : 9_000_000)]);
    await bus.runMaintenance();
    let [range] = await bus.partitionOffsets('t');
    expect(range!.start).toBeGreaterThan(0);
    expect(range!.start).toBeLessThanOrEqual(60); // nothing newer than the horizon went
    const kept = await readAll(bus, 't');
    expect(kept.at(-1)!.offset).toBe(99);
    expect(kept.every((r) => r.offset >= range!.start)).toBe(true);

    clock.advance(100 * 3_600_000); // everything is old now; the active segment stays
    await bus.runMaintenance();
    [range] = await bus.partitionOffsets('t');
    expect(range!.end).toBe(100);
    expect(range!.start).toBeGreaterThan(60);
    await bus.close();
  });

  it('deletes the oldest segments while the partition is over its size limit', async () => {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 1, segmentBytes: 2048, retentionBytes: 8192 });
    const producer = bus.producer();
    for (let i = 0; i < 200; i++) await producer.send([record(i, Date.now())]);
    await bus.runMaintenance();
    const [range] = await bus.partitionOffsets('t');
    expect(range!.start).toBeGreaterThan(100);
    const kept = await readAll(bus, 't');
    expect(kept.length).toBe(200 - range!.start);
    const bytes = kept.length * 150; // lower bound of what remains on disk, framing included
    expect(bytes).toBeGreaterThanOrEqual(8192 - 2048);
    await bus.close();
  });

  it('moves a consumer left behind by retention to the reset position', async () => {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 1, segmentBytes: 2048, retentionBytes: 4096 });
    const producer = bus.producer();
    const consumer = bus.consumer({ reset: 'earliest' });
    await consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    for (let i = 0; i < 100; i++) await producer.send([record(i, Date.now())]);
    await bus.runMaintenance();
    const [range] = await bus.partitionOffsets('t');
    const got = await consumer.poll({ timeoutMs: 1000 });
    expect(got[0]!.offset).toBe(range!.start);
    await bus.close();
  });
});
