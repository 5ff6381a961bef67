import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../src/core/index.ts';

describe('murmur2', () => {
  // The vectors of Kafka's own UtilsTest.testMurmur2: a key hashes the same here as in Kafka's clients.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j as Kafka does', (input, expected) => {
    expect(murmur2(Buffer.from(input))).toBe(expected);
  });

  it('maps keys to partitions as toPositive(murmur2) % n', () => {
    expect(partitionForKey(Buffer.from('21'), 7)).toBe((-973932308 & 0x7fffffff) % 7);
    expect(partitionForKey(Buffer.alloc(0), 3)).toBe((murmur2(Buffer.alloc(0)) & 0x7fffffff) % 3);
  });
});
