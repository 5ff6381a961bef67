import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ManualClock } from '../../src/core/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open, readAll } from './log-helpers.ts';

describe('compaction', () => {
  const temp = useTempDir('each');

  it('keeps the newest record per key at its original offset, and leaves the active segment alone', async () => {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 1, compacted: true, segmentBytes: 2048 });
    const producer = bus.producer();
    const newest = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const key = `k${i % 10}`;
      const [m] = await producer.send([
        { topic: 't', key: Buffer.from(key), value: Buffer.from(`${key}=${i}`) },
      ]);
      newest.set(key, m!.offset);
    }
    const before = await readAll(bus, 't');
    await bus.runMaintenance();
    const after = await readAll(bus, 't');
    expect(after.length).toBeLessThan(before.length);
    // Every key's newest record is there, unchanged, at the same offset.
    for (const [key, offset] of newest) {
      const record = after.find((r) => r.offset === offset)!;
      expect(record.key!.toString()).toBe(key);
      expect(record.value!.toString()).toBe(before.find((r) => r.offset === offset)!.value!.toString());
    }
    // Offsets still increase, and every survivor was in the log before.
    for (let i = 1; i < after.length; i++) expect(after[i]!.offset).toBeGreaterThan(after[i - 1]!.offset);
    const original = new Map(before.map((r) => [r.offset, r.value!.toString()]));
    for (const r of after) expect(original.get(r.offset)).toBe(r.value!.toString());
    // The active segment keeps older duplicates: only closed segments are compacted.
    const [range] = await bus.partitionOffsets('t');
    expect(range!.end).toBe(400);
    await bus.close();
    const reopened = await open(temp.dir);
    expect((await readAll(reopened, 't')).map((r) => r.offset)).toEqual(after.map((r) => r.offset));
    await reopened.close();
  });

  it('drops tombstones once they are older than tombstoneRetention, and the values they deleted', async () => {
    const clock = new ManualClock(1_000_000);
    const bus = await open(temp.dir, { clock });
    await bus.createTopic('t', {
      partitions: 1,
      compacted: true,
      segmentBytes: 1024,
      tombstoneRetention: '1m',
    });
    const producer = bus.producer();
    await producer.send([{ topic: 't', key: Buffer.from('gone'), value: Buffer.from('v') }]);
    await producer.send([{ topic: 't', key: Buffer.from('gone'), value: null }]);
    for (let i = 0; i < 60; i++)
      await producer.send([{ topic: 't', key: Buffer.from(`k${i}`), value: Buffer.from('x'.repeat(40)) }]);
    await bus.runMaintenance();
    let records = await readAll(bus, 't');
    expect(records.filter((r) => r.key!.toString() === 'gone').map((r) => r.value)).toEqual([null]);
    clock.advance(120_000);
    await bus.runMaintenance();
    records = await readAll(bus, 't');
    expect(records.some((r) => r.key!.toString() === 'gone')).toBe(false);
    await bus.close();
  });

  it('requires a key on a compacted topic', async () => {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 1, compacted: true });
    await expect(bus.producer().send([{ topic: 't', value: Buffer.from('x') }])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await bus.close();
  });
});
