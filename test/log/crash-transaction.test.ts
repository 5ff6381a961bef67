import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { runAndKill } from './crash-harness.ts';
import { open, readAll } from './log-helpers.ts';

const ROUNDS = 40;
const PER_TRANSACTION = 9; // 3 partitions × 3 records

describe('kill -9 during transaction commits', () => {
  const temp = useTempDir('all');

  it(`shows every transaction whole or not at all, with its group offset, over ${ROUNDS} kills`, async () => {
    const random = seededRandom(42);
    const committed = new Set<number>();
    let interrupted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const target = 1 + Math.floor(random() * 15);
      // Kill right as a commit starts (or a moment into it), the window where atomicity is at stake.
      const { lines } = await runAndKill('transact-forever.ts', [temp.dir], (line) => {
        const match = /^committing (\d+)$/.exec(line);
        return match !== null && Number(match[1]) % 16 >= target ? Math.floor(random() * 3) : false;
      });
      for (const line of lines) if (line.startsWith('committed ')) committed.add(Number(line.slice(10)));

      const bus = await open(temp.dir);
      if (bus.recovery.reappliedTransactionBatches > 0) interrupted++;
      const count = new Map<number, number>();
      for (let p = 0; p < 3; p++) {
        for (const r of await readAll(bus, 'out', p)) {
          const n = Number(r.value!.toString().split(':')[0]);
          count.set(n, (count.get(n) ?? 0) + 1);
        }
      }
      for (const [n, c] of count) expect({ n, records: c }).toEqual({ n, records: PER_TRANSACTION }); // all or nothing
      for (const n of committed) expect(count.has(n)).toBe(true); // acknowledged commits survive
      const visible = [...count.keys()];
      const [offset] = await bus.committedOffsets('g', 'src');
      expect(offset?.offset ?? 0).toBe(visible.length === 0 ? 0 : Math.max(...visible) + 1); // offsets moved with the records
      await bus.close();
    }
    expect(committed.size).toBeGreaterThan(ROUNDS / 2);
    // Done journal files are deleted: however many transactions ran, a few files remain.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(`${temp.dir}/transactions`)).length).toBeLessThanOrEqual(3);
    // The kills did land inside commits: some recoveries had to finish a half-applied transaction.
    expect(interrupted).toBeGreaterThan(0);
  }, 240_000);
});
