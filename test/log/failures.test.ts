import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EmbeddedBus } from '../../src/log/index.ts';
import { TransactionJournal } from '../../src/log/transaction-journal.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open, readAll, values } from './log-helpers.ts';

/** The embedded log's debts from trying it as an operator would: each test failed before its fix. */
describe('embedded log under failures', () => {
  const temp = useTempDir('each', 'kappa-log-failures-');
  let bus: EmbeddedBus | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await bus?.close();
    bus = undefined;
  });

  it('a transaction whose journal entry fails leaves no partition fenced or blocked', async () => {
    bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 2 });
    const producer = bus.producer({ transactionalId: 'tx' });
    const txn = await producer.beginTransaction();
    await txn.send(
      [0, 1].map((partition) => ({ topic: 't', partition, value: Buffer.from(`txn-${partition}`) })),
    );
    vi.spyOn(TransactionJournal.prototype, 'prepare').mockRejectedValueOnce(new Error('disk full'));
    await expect(txn.commit()).rejects.toThrow('disk full');
    // Both partitions take appends and show them; nothing of the failed transaction appears.
    await bus
      .producer()
      .send([0, 1].map((partition) => ({ topic: 't', partition, value: Buffer.from(`after-${partition}`) })));
    expect(values(await readAll(bus, 't', 0))).toEqual(['after-0']);
    expect(values(await readAll(bus, 't', 1))).toEqual(['after-1']);
    const next = await producer.beginTransaction();
    await next.send([{ topic: 't', partition: 0, value: Buffer.from('again') }]);
    await next.commit();
    expect(values(await readAll(bus, 't', 0))).toEqual(['after-0', 'again']);
  });

  it("does not bring a deleted topic's committed offsets back after a restart", async () => {
    bus = await open(temp.dir);
    await bus.createTopic('gone', { partitions: 1 });
    await bus.producer().send([{ topic: 'gone', value: Buffer.from('x') }]);
    const c = bus.consumer({ group: 'g', reset: 'earliest' });
    await c.subscribe(['gone']);
    await c.poll({ timeoutMs: 1000 });
    await c.commit();
    await c.close();
    expect(await bus.committedOffsets('g')).toEqual([{ topic: 'gone', partition: 0, offset: 1 }]);
    await bus.deleteTopic('gone');
    await bus.close();
    bus = await open(temp.dir);
    expect(await bus.committedOffsets('g')).toEqual([]);
    // A new topic of the same name starts with no offsets for the group.
    await bus.createTopic('gone', { partitions: 1 });
    expect(await bus.committedOffsets('g', 'gone')).toEqual([]);
  });

  it('honours the fsync interval of a topic created after the log opened', async () => {
    bus = await open(temp.dir);
    expect(bus.syncIntervalMs).toBe(1000);
    await bus.createTopic('often', { partitions: 1, fsync: '50ms' });
    expect(bus.syncIntervalMs).toBe(50);
    await bus.producer().send([{ topic: 'often', value: Buffer.from('x') }]);
    const log = bus.partitionLog('often', 0);
    const deadline = Date.now() + 10_000;
    while (log.lastSyncAt === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(log.lastSyncAt).toBeGreaterThan(0);
  });

  it('lets the event loop run while it compacts a large segment', async () => {
    bus = await open(temp.dir);
    await bus.createTopic('table', {
      partitions: 1,
      compacted: true,
      segmentBytes: 8 * 1024 * 1024,
      fsync: 'never',
    });
    const producer = bus.producer();
    for (let b = 0; b < 100; b++)
      await producer.send(
        Array.from({ length: 1000 }, (_, i) => ({
          topic: 'table',
          key: Buffer.from(`key-${b}-${i}`),
          value: Buffer.alloc(80, b),
        })),
      );
    expect(bus.partitionLog('table', 0).segments.length).toBeGreaterThan(1);
    let ticks = 0;
    let running = true;
    const spin = () => {
      if (!running) return;
      ticks++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const before = ticks;
    await bus.runMaintenance();
    running = false;
    // Scanning 8 MiB of keys in one go would let no callback run until it is done.
    expect(ticks - before).toBeGreaterThan(1);
  });
});
