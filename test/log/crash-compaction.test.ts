import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { runAndKill } from './crash-harness.ts';
import { open, readAll } from './log-helpers.ts';

const ROUNDS = 25;

describe('kill -9 during compaction', () => {
  const temp = useTempDir('all');

  it(`keeps the newest value of every key at its offset over ${ROUNDS} kills`, async () => {
    const random = seededRandom(7);
    /** key → the newest acknowledged write: its value and offset. */
    const newest = new Map<string, { value: string; offset: number }>();
    let interruptedCompactions = 0;
    let acks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 40 + Math.floor(random() * 200);
      // Half the rounds die while a compaction runs, the others anywhere.
      const duringCompaction = random() < 0.5;
      const { lines } = await runAndKill('compact-forever.ts', [temp.dir, String(round)], (line, n) =>
        n >= killAfter && (!duringCompaction || line === 'compacting') ? Math.floor(random() * 4) : false,
      );
      const leftovers = (await readdir(path.join(temp.dir, 'topics', 'c', '0'))).filter((f) =>
        /\.(cleaned|swap)$/.test(f),
      );
      if (leftovers.length > 0) interruptedCompactions++;
      acks += lines.filter((l) => l.startsWith('ack ')).length;
      for (const line of lines) {
        if (!line.startsWith('ack ')) continue;
        const [, key, version, offset] = line.split(' ') as [string, string, string, string];
        newest.set(key, { value: `${key}=${version}`.padEnd(80, '.'), offset: Number(offset) });
      }

      const bus = await open(temp.dir);
      const records = await readAll(bus, 'c');
      const byOffset = new Map(records.map((r) => [r.offset, r]));
      for (let i = 1; i < records.length; i++)
        expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
      for (const [key, { value, offset }] of newest) {
        const newer = records.filter((r) => r.key!.toString() === key && r.offset > offset);
        if (newer.length > 0) continue; // written, not acknowledged before the kill: a newer value wins
        const record = byOffset.get(offset);
        expect(record?.value?.toString(), `newest value of ${key} at offset ${offset}`).toBe(value);
      }
      // Compaction ran and removed older versions, so the log is shorter than all writes.
      if (round === ROUNDS - 1) expect(records.length).toBeLessThan(acks);
      await bus.close();
    }
    console.info(
      `compaction crash test: ${interruptedCompactions} of ${ROUNDS} kills left a compaction to finish`,
    );
  }, 240_000);
});
