import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/core/index.ts';
import {
  readableRepartitioned,
  readRepartitioned,
  repartitioned,
} from '../../src/stream/runtime/repartition-record.ts';

const record = (key: Buffer | null, value: Buffer | null): ConsumedRecord => ({
  topic: 't',
  partition: 0,
  offset: 0,
  timestamp: 0,
  key,
  value,
  headers: {},
});

describe('repartition records', () => {
  it('round-trips an element in the binary form, keyed by its JSON', () => {
    const { key, value } = repartitioned({ merchant: 'm1' }, { amount: 5, at: -Infinity }, 1234);
    expect(key.toString()).toBe('{"merchant":"m1"}');
    expect(value[0]).not.toBe(0x7b);
    expect(readRepartitioned(record(key, value))).toEqual({
      kind: 'data',
      key: { merchant: 'm1' },
      value: { amount: 5, at: -Infinity },
      eventTime: 1234,
      side: 0,
    });
  });

  it('reads the JSON form written before, and as dead letters show it', () => {
    const { key, value } = repartitioned('k', { n: 1 }, 99);
    const shown = readableRepartitioned(record(key, value))!;
    expect(JSON.parse(shown.toString())).toEqual({ eventTime: 99, value: { n: 1 } });
    expect(readRepartitioned(record(key, shown))).toEqual({
      kind: 'data',
      key: 'k',
      value: { n: 1 },
      eventTime: 99,
      side: 0,
    });
  });

  it('refuses what is neither form', () => {
    expect(() => readRepartitioned(record(Buffer.from('"k"'), Buffer.from([0x01])))).toThrow(TypeError);
    expect(() => readRepartitioned(record(Buffer.from('"k"'), Buffer.from('{"x":1}')))).toThrow(TypeError);
    expect(() => readRepartitioned(record(null, Buffer.from('{}')))).toThrow(TypeError);
    // A value that is not even MessagePack is refused too, not a crash.
    expect(() => readRepartitioned(record(Buffer.from('"k"'), Buffer.from([0xc1])))).toThrow();
  });
});
