import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { runAndKill } from './crash-harness.ts';
import { open, readAll } from './log-helpers.ts';

const ROUNDS = 50;

describe('kill -9 during appends', () => {
  const temp = useTempDir('all');

  it(`loses no acknowledged record and corrupts nothing over ${ROUNDS} kills`, async () => {
    const random = seededRandom(20261125);
    const acked = new Set<string>();
    let previousMaxOffset = [-1, -1, -1];
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = Math.floor(random() * 25);
      const { lines } = await runAndKill(
        'append-forever.ts',
        [temp.dir, String(round), String(round + 1)],
        (line, n) =>
          line === 'ready'
            ? killAfter === 0
              ? Math.floor(random() * 5)
              : false
            : n > killAfter
              ? Math.floor(random() * 3)
              : false,
      );
      for (const line of lines)
        if (line.startsWith('ack ')) for (const id of line.slice(4).split(' ')) acked.add(id);

      const bus = await open(temp.dir);
      const seen = new Set<string>();
      for (let p = 0; p < 3; p++) {
        const records = await readAll(bus, 't', p);
        let last = -1;
        const lastSeqOfRound = new Map<string, number>();
        for (const r of records) {
          expect(r.offset).toBeGreaterThan(last); // in order, no offset reused
          last = r.offset;
          const [id, payload, sum] = r.value!.toString().split('|') as [string, string, string];
          expect(r.key!.toString()).toBe(id);
          expect(crc32(payload)).toBe(Number(sum)); // uncorrupted
          expect(seen.has(id)).toBe(false); // no duplicates
          seen.add(id);
          const [from, seq] = id.split(':').map(Number) as [number, number];
          expect(seq).toBeGreaterThan(lastSeqOfRound.get(String(from)) ?? -1); // producer order kept per partition
          lastSeqOfRound.set(String(from), seq);
          if (from === round) expect(r.offset).toBeGreaterThan(previousMaxOffset[p]!); // offsets continue after recovery
        }
        previousMaxOffset[p] = last;
      }
      const missing = [...acked].filter((id) => !seen.has(id));
      expect(missing).toEqual([]);
      await bus.close();
    }
    expect(acked.size).toBeGreaterThan(ROUNDS);
    previousMaxOffset = [];
  }, 240_000);
});
