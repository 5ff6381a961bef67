import { describe, expect, it } from 'vitest';
import { RecordInvalidError } from '../../src/registry/index.ts';
import {
  avro,
  count,
  json,
  jsonSchema,
  pipeline,
  protobuf,
  runPipeline,
  tumbling,
} from '../../src/stream/index.ts';

interface Reading {
  device: string;
  celsius: number;
  ts: number;
}

const READING_AVRO = {
  type: 'record',
  name: 'Reading',
  fields: [
    { name: 'device', type: 'string' },
    { name: 'celsius', type: 'double' },
    { name: 'ts', type: 'long' },
  ],
};

const READING_PROTO = `syntax = "proto3";
message Reading { string device = 1; double celsius = 2; int64 ts = 3; }`;

describe('serdes', () => {
  it('write and read values in Avro, JSON Schema and Protobuf', () => {
    const value: Reading = { device: 'd1', celsius: 21.5, ts: 1_700_000_000_000 };
    const a = avro<Reading>(READING_AVRO);
    expect(a.decode(a.encode(value))).toEqual(value);
    expect(a.encode(value).length).toBeLessThan(json().encode(value).length);
    const j = jsonSchema<Reading>({ type: 'object', required: ['device', 'celsius', 'ts'] });
    expect(j.decode(j.encode(value))).toEqual(value);
    const p = protobuf<{ device: string; celsius: number; ts: string }>(READING_PROTO);
    // Protobuf's JSON mapping gives 64-bit integers as strings.
    expect(p.decode(p.encode({ device: 'd1', celsius: 21.5, ts: '1700000000000' }))).toEqual({
      device: 'd1',
      celsius: 21.5,
      ts: '1700000000000',
    });
  });

  it('refuse values that do not match, naming the field', () => {
    const a = avro<Reading>(READING_AVRO);
    expect(() => a.encode({ device: 'd1', celsius: 'warm', ts: 1 } as never)).toThrow(
      expect.objectContaining({ name: 'RecordInvalidError', message: expect.stringContaining('$.celsius') }),
    );
    expect(() => a.decode(Buffer.from([0xff, 0xff, 0xff]))).toThrow(RecordInvalidError);
    const j = jsonSchema<Reading>({ type: 'object', properties: { celsius: { type: 'number' } } });
    expect(() => j.decode(Buffer.from('{"celsius":"warm"}'))).toThrow(/celsius/);
    expect(() => json().encode(undefined)).toThrow(TypeError);
  });

  it('read a pipeline source and write its sink; bad bytes and unwritable results become dead letters', () => {
    const serde = avro<Reading>(READING_AVRO);
    const out = avro<{ device: string; readings: number }>({
      type: 'record',
      name: 'Count',
      fields: [
        { name: 'device', type: 'string' },
        { name: 'readings', type: 'int' },
      ],
    });
    const p = pipeline('readings')
      .source('readings', { serde, eventTime: (r) => r.ts })
      .keyBy((r) => r.device)
      .window(tumbling(10))
      .aggregate({ n: count() })
      // A device named "bad" makes a result the sink's schema refuses.
      .map((w) => ({ device: w.key, readings: w.key === 'bad' ? 1.5 : w.value.n }))
      .toTopic('counts', { serde: out });
    const run = runPipeline(p, [
      { value: { device: 'd1', celsius: 20, ts: 1 } },
      { bytes: Buffer.from('not avro at all') },
      { value: { device: 'd1', celsius: 21, ts: 2 } },
      { value: { device: 'bad', celsius: 0, ts: 3 } },
    ]);
    expect(run.topics.counts).toEqual([{ key: 'd1', value: { device: 'd1', readings: 2 } }]);
    expect(run.deadLetters.map((d) => [d.reason, d.step, d.errorClass, d.offset])).toEqual([
      ['decode', 'source', 'RecordInvalidError', 1],
      ['error', 'toTopic-1', 'RecordInvalidError', -1],
    ]);
  });
});
