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
