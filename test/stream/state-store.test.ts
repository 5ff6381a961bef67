import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LmdbTaskState, MemoryStateStore } from '../../src/stream/index.ts';
import { runAndKill } from '../log/crash-harness.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { stateStoreContract } from './state-store-contract.ts';

stateStoreContract('memory', { open: async () => new MemoryStateStore() });

const temp = useTempDir('each');
let opened = 0;
stateStoreContract('lmdb', {
  open: async () => LmdbTaskState.open(path.join(temp.dir, `task-${opened++}`)).store('window-1'),
  reopen: async (store) => {
    await store.close();
    return LmdbTaskState.open(path.join(temp.dir, `task-${opened - 1}`)).store('window-1');
  },
});

describe('lmdb state store under kill -9', () => {
  it('after a kill at a random point, holds exactly the writes of the commits its meta names', async () => {
    const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
    console.log(`lmdb crash test: seed ${seed}`);
    const random = seededRandom(seed);
    const dir = path.join(temp.dir, 'crash');
    for (let round = 0; round < 5; round++) {
      const after = 3 + Math.floor(random() * 40);
      const { killed } = await runAndKill(
        path.join(import.meta.dirname, 'fixtures', 'lmdb-commits.ts'),
        [dir, String(round)],
        (_line, count) => count >= after,
      );
      expect(killed).toBe(true);
      const store = LmdbTaskState.open(dir).store('step');
      const meta = store.meta();
      expect(meta, `seed ${seed}, round ${round}`).not.toBeNull();
      // Commit n writes 500 keys, each with value n, and meta n: all of one commit, or none of it.
      const values = new Set([...store.range()].map(([, v]) => v.toString()));
      expect([...values], `seed ${seed}, round ${round}`).toEqual([`${round}:${meta!.changelogOffset}`]);
      expect([...store.range()].length).toBe(500);
      await store.close();
    }
  }, 120_000);
});
