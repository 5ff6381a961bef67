import { createRecordsBatch, Reader, readRecordsBatches } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { readBatches } from '../../src/kafka/fetch-records.ts';
import { seededRandom } from '../support/random.ts';

/**
 * The record-batch decoder against the client's own encoder and decoder: random records (null and
 * empty keys and values, headers, timestamps before and after the batch's first, large offsets),
 * every compression, several batches in one buffer and a partial one at its end.
 */
describe('fetch-records: record batches', () => {
  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)
    it(`decodes what the client encodes (${compression}) as the client decodes it`, () => {
      const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
      console.log(`fetch-records ${compression}: seed ${seed}`);
      const random = seededRandom(seed);
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
      const maybe = () => (random() < 0.2 ? undefined : bytes(Math.floor(random() * 300)));
      const parts: Buffer[] = [];
      let base = 2 ** 40 + Math.floor(random() * 1000);
      for (let b = 0; b < 4; b++) {
        const now = 1_700_000_000_000 + Math.floor(random() * 1e9);
        const messages = Array.from({ length: 1 + Math.floor(random() * 50) }, () => ({
          topic: 't',
          key: maybe(),
          value: maybe(),
          timestamp: BigInt(now + Math.floor(random() * 2e6) - 1e6),
          headers: new Map(
            Array.from({ length: Math.floor(random() * 3) }, (_, h) => [Buffer.from(`h${h}`), bytes(h * 3)]),
          ),
        }));
        const batch = createRecordsBatch(messages as never, { compression }).buffer;
        // The broker stamps each batch's first offset.
        batch.writeBigInt64BE(BigInt(base), 0);
        base += messages.length;
        parts.push(batch);
      }
      const whole = Buffer.concat(parts);
      // A fetch may end inside a batch: that one is left for the next fetch.
      const buffer = whole.subarray(0, whole.length - 5);
      const ours = readBatches(buffer);
      const theirs = readRecordsBatches(Reader.from(buffer));
      expect(ours.length).toBe(3);
      expect(ours.map((b) => b.fetched.length)).toEqual(theirs.map((b) => b.records.length));
      for (const [i, batch] of theirs.entries()) {
        expect(ours[i]!.firstOffset).toBe(batch.firstOffset);
        expect(ours[i]!.lastOffsetDelta).toBe(batch.lastOffsetDelta);
        expect(ours[i]!.fetched).toEqual(
          batch.records.map((r) => ({
            topic: '',
            partition: 0,
            offset: Number(batch.firstOffset) + r.offsetDelta,
            timestamp: Number(batch.firstTimestamp + r.timestampDelta),
            key: r.key ?? null,
            value: r.value ?? null,
            headers: Object.fromEntries(r.headers.map(([k, v]) => [String(k), v ?? Buffer.alloc(0)])),
          })),
        );
      }
    });
});
