import { createRecordsBatch, Reader, readRecordsBatches } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import {
  carriedRecords,
  carryRecords,
  isPositionMarker,
  readBatches,
} from '../../src/kafka/fetch-records.ts';
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

describe('fetch-records: carrying a partition through the client', () => {
  const batchAt = (offset: number, values: string[], options: Record<string, unknown> = {}) => {
    const batch = createRecordsBatch(
      values.map((v) => ({ topic: 't', value: Buffer.from(v) })) as never,
      options,
    ).buffer;
    batch.writeBigInt64BE(BigInt(offset), 0);
    return readBatches(batch)[0]!;
  };
  /** A control batch: its one record's key is (version, type), type 0 an abort. */
  const marker = (offset: number, producerId: bigint, type: 0 | 1) => ({
    ...batchAt(offset, ['x']),
    producerId,
    attributes: (1 << 4) | (1 << 5),
    records: [{ key: Buffer.from([0, 0, 0, type]) }],
    fetched: [],
  });

  it('drops what lies below the fetch offset and aborted transactions, keeps markers, and leaves the client one message at the last offset', () => {
    const aborted = {
      ...batchAt(200, ['a', 'b'], { transactionalId: 'tx', producerId: 7n }),
      producerId: 7n,
    };
    const response = {
      responses: [
        {
          topicId: 'T',
          partitions: [
            {
              partitionIndex: 0,
              records: [batchAt(100, ['0', '1', '2', '3', '4']), batchAt(105, ['5', '6'])],
            },
            {
              partitionIndex: 1,
              records: [aborted, marker(202, 7n, 0), batchAt(203, ['c'])],
              abortedTransactions: [{ producerId: 7n, firstOffset: 200n }],
            },
            {
              partitionIndex: 2,
              records: [{ ...aborted }],
              abortedTransactions: [{ producerId: 7n, firstOffset: 200n }],
            },
          ],
        },
      ],
    };
    carryRecords(
      response,
      new Map([
        ['T:0', 102],
        ['T:1', 200],
        ['T:2', 200],
      ]),
    );
    const [p0, p1, p2] = response.responses[0]!.partitions;
    const carried = (p: typeof p0) => {
      const [batch] = p!.records as unknown as Array<{ records: Array<{ value: unknown }> }>;
      return carriedRecords(batch!.records[0]!.value) ?? [];
    };
    expect(carried(p0).map((r) => [r.offset, r.value!.toString()])).toEqual([
      [102, '2'],
      [103, '3'],
      [104, '4'],
      [105, '5'],
      [106, '6'],
    ]);
    // The client sees one batch, ending where the last one did, so its fetch position moves past it.
    expect(p0!.records).toHaveLength(1);
    expect(Number(p0!.records![0]!.firstOffset) + p0!.records![0]!.lastOffsetDelta).toBe(106);
    expect(carried(p1).map((r) => [r.offset, isPositionMarker(r)])).toEqual([
      [202, true],
      [203, false],
    ]);
    // Only aborted records: nothing to carry, and a control batch the client only counts.
    expect(p2!.records![0]!.attributes & (1 << 5)).not.toBe(0);
    expect(p2!.records![0]!.records).toEqual([]);
  });
});
