import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/log/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { open } from './log-helpers.ts';

describe('embedded group assignment', () => {
  const temp = useTempDir('each', 'kappa-groups-');

  it('is balanced and sticky: a member joining or leaving moves only its share', async () => {
    const bus = await open(temp.dir);
    await bus.createTopic('t', { partitions: 6 });
    const owned = new Map<string, Set<number>>();
    let moves = 0;
    const join = async (name: string): Promise<Consumer> => {
      owned.set(name, new Set());
      const c = bus.consumer({
        group: 'g',
        onAssigned: (parts) => {
          for (const p of parts) owned.get(name)!.add(p.partition);
          moves += parts.length;
        },
        onRevoked: (parts) => {
          for (const p of parts) owned.get(name)!.delete(p.partition);
        },
      });
      await c.subscribe(['t']);
      return c;
    };
    const shares = () => [...owned.values()].map((s) => s.size).sort();
    const a = await join('a');
    await join('b');
    const c = await join('c');
    expect(shares()).toEqual([2, 2, 2]);
    const before = new Map([...owned].map(([n, s]) => [n, new Set(s)]));
    moves = 0;
    await c.close();
    owned.delete('c');
    // c's two partitions move; a and b keep what they had.
    expect(moves).toBe(2);
    expect(shares()).toEqual([3, 3]);
    for (const name of ['a', 'b'])
      for (const p of before.get(name)!) expect(owned.get(name)!.has(p)).toBe(true);
    moves = 0;
    await join('d');
    expect(moves).toBe(2);
    expect(shares()).toEqual([2, 2, 2]);
    const all = [...owned.values()].flatMap((s) => [...s]).sort();
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
    await a.close();
    await bus.close();
  });
});
