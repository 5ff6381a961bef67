import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/core/index.ts';
import { json } from '../../src/stream/index.ts';
import {
  readableRepartitioned,
  readRepartitioned,
  repartitioned,
} from '../../src/stream/runtime/repartition-record.ts';

const serdes = () => json();
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
    expect(readRepartitioned(record(key, value), serdes)).toEqual({
      kind: 'data',
      key: { merchant: 'm1' },
      value: { amount: 5, at: -Infinity },
      eventTime: 1234,
      side: 0,
    });
  });

  it('reads the JSON form written before, and as dead letters show it', () => {
    const { key, value } = repartitioned('k', { n: 1 }, 99);
    const shown = readableRepartitioned(record(key, value), serdes)!;
    expect(JSON.parse(shown.toString())).toEqual({ eventTime: 99, value: { n: 1 } });
    expect(readRepartitioned(record(key, shown), serdes)).toEqual({
      kind: 'data',
      key: 'k',
      value: { n: 1 },
      eventTime: 99,
      side: 0,
    });
  });

  it("carries the source record's own bytes past a cut that only filters, read back with its serde", () => {
    const source = Buffer.from(JSON.stringify({ merchant: 'm1', amount: 5 }));
    const { key, value } = repartitioned('m1', null, 77, 1, source);
    expect(readRepartitioned(record(key, value), serdes)).toEqual({
      kind: 'data',
      key: 'm1',
      value: { merchant: 'm1', amount: 5 },
      eventTime: 77,
      side: 1,
    });
    expect(JSON.parse(readableRepartitioned(record(key, value), serdes)!.toString())).toEqual({
      eventTime: 77,
      value: { merchant: 'm1', amount: 5 },
      side: 1,
    });
    // Bytes the serde cannot read are refused (a dead letter), not a crash.
    const broken = repartitioned('m1', null, 77, 0, Buffer.from('{broken'));
    expect(() => readRepartitioned(record(broken.key, broken.value), serdes)).toThrow();
  });

  it('refuses what is neither form', () => {
    const read = (key: Buffer | null, value: Buffer) => () => readRepartitioned(record(key, value), serdes);
    expect(read(Buffer.from('"k"'), Buffer.from([0x01]))).toThrow(TypeError);
    expect(read(Buffer.from('"k"'), Buffer.from('{"x":1}'))).toThrow(TypeError);
    expect(read(null, Buffer.from('{}'))).toThrow(TypeError);
    // A value that is not even MessagePack is refused too, not a crash.
    expect(read(Buffer.from('"k"'), Buffer.from([0xc1]))).toThrow();
  });
});
