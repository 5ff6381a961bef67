import { describe, expect, it } from 'vitest';
import { UnknownTopicError } from '../../src/core/index.ts';
import type { Bus } from '../../src/log/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { busContract } from './bus-contract.ts';

const removers: Array<() => Promise<void>> = [];

busContract('embedded log', {
  async open() {
    const { dir, remove } = await tempDir('kappa-bus-');
    removers.push(remove);
    return openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
  },
  async reopen(bus: Bus) {
    const dataDir = (bus as EmbeddedBus).dataDir;
    await bus.close();
    return openEmbeddedBus({ dataDir, maintenanceInterval: 0 });
  },
  async cleanup() {
    for (const remove of removers.splice(0)) await remove();
  },
});

describe('embedded log transactions', () => {
  it('refuses a commit whose topic was deleted (or deleted and made again) after the send', async () => {
    const { dir, remove } = await tempDir('kappa-bus-');
    const bus = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
    try {
      for (const remake of [false, true]) {
        await bus.createTopic('gone', { partitions: 1 });
        const txn = await bus.producer({ transactionalId: `tx-${remake}` }).beginTransaction();
        await txn.send([{ topic: 'gone', value: Buffer.from('x') }]);
        await bus.deleteTopic('gone');
        if (remake) await bus.createTopic('gone', { partitions: 1 });
        await expect(txn.commit()).rejects.toBeInstanceOf(UnknownTopicError);
        if (remake) {
          expect((await bus.partitionOffsets('gone'))[0]!.end).toBe(0);
          await bus.deleteTopic('gone');
        }
      }
    } finally {
      await bus.close();
      await remove();
    }
  });
});
