import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireSerde } from '../../src/registry/index.ts';
import { avroRecord, type RegistryServer, startRegistryServer } from '../registry/registry-helpers.ts';

const AVRO = 'application/vnd.kafka.avro.v2+json';
const JSONSCHEMA = 'application/vnd.kafka.jsonschema.v2+json';
const PROTOBUF = 'application/vnd.kafka.protobuf.v2+json';

const payment = avroRecord('Payment', [
  { name: 'id', type: 'string' },
  { name: 'amount', type: 'double' },
  { name: 'note', type: ['null', 'string'], default: null },
]);

const V2 = 'application/vnd.kafka.v2+json';

describe('REST Proxy v2 produce with schemas', () => {
  let s: RegistryServer;
  let serde: WireSerde;
  const post = (topic: string, body: unknown, type: string) => s.call('POST', `/topics/${topic}`, body, type);
  const appended = async (topic: string) =>
    (await s.bus.partitionOffsets(topic)).reduce((sum, r) => sum + r.end - r.start, 0);
  const read = async (topic: string) => {
    const c = s.bus.consumer({});
    await c.assign([{ topic, partition: 0, offset: 0 }]);
    const records = await c.poll({ timeoutMs: 500 });
    await c.close();
    return records;
  };

  beforeAll(async () => {
    s = await startRegistryServer({ server: { requireSchema: ['strict-*'] } });
    serde = new WireSerde(s.registry);
    for (const t of ['payments', 'shipments', 'orders', 'strict-payments', 'mixed'])
      await s.bus.createTopic(t, { partitions: 1 });
  });
  afterAll(async () => s.close());

  it('registers an Avro value schema under <topic>-value and writes wire format', async () => {
    const r = await post(
      'payments',
      {
        value_schema: payment,
        records: [
          { value: { id: 'p1', amount: 10, note: null } },
          { value: { id: 'p2', amount: 2.5, note: { string: 'gift' } } },
        ],
      },
      AVRO,
    );
    expect(r.status).toBe(200);
    expect(r.body.key_schema_id).toBeNull();
    expect(r.body.value_schema_id).toBe(s.registry.version('payments-value', -1).id);
    const records = await read('payments');
    expect(records.map((x) => serde.deserialize(x.value!).value)).toEqual([
      expect.objectContaining({ id: 'p1', amount: 10, note: null }),
      expect.objectContaining({ id: 'p2', amount: 2.5, note: 'gift' }),
    ]);
    const again = await post(
      'payments',
      { value_schema_id: r.body.value_schema_id, records: [{ value: { id: 'p3', amount: 1, note: null } }] },
      AVRO,
    );
    expect([again.status, again.body.value_schema_id]).toEqual([200, r.body.value_schema_id]);
    // A json consumer gets wire-format values decoded, with the schema's id.
    const created = await s.call(
      'POST',
      '/consumers/decoding',
      { format: 'json', 'auto.offset.reset': 'earliest' },
      V2,
    );
    const instance = `/consumers/decoding/instances/${created.body.instance_id}`;
    await s.call('POST', `${instance}/subscription`, { topics: ['payments'] }, V2);
    const fetched = await s.call('GET', `${instance}/records?timeout=500`);
    expect(
      fetched.body.map((x: { value: unknown; value_schema_id: number }) => [x.value, x.value_schema_id]),
    ).toEqual([
      [{ id: 'p1', amount: 10, note: null }, r.body.value_schema_id],
      [{ id: 'p2', amount: 2.5, note: 'gift' }, r.body.value_schema_id],
      [{ id: 'p3', amount: 1, note: null }, r.body.value_schema_id],
    ]);
  });

  it('takes JSON Schema and Protobuf, keys included', async () => {
    const json = await post(
      'shipments',
      {
        key_schema: JSON.stringify({ type: 'string' }),
        value_schema: JSON.stringify({
          type: 'object',
          properties: { to: { type: 'string' } },
          required: ['to'],
        }),
        records: [{ key: 's1', value: { to: 'Oslo' } }],
      },
      JSONSCHEMA,
    );
    expect(json.status).toBe(200);
    expect(json.body.key_schema_id).toEqual(expect.any(Number));
    const [record] = await read('shipments');
    expect(serde.deserialize(record!.key!).value).toBe('s1');
    expect(serde.deserialize(record!.value!).value).toEqual({ to: 'Oslo' });

    const proto = await post(
      'orders',
      {
        value_schema:
          'syntax = "proto3"; message Order { string id = 1; int64 qty = 2; Kind kind = 3; } enum Kind { A = 0; B = 1; }',
        records: [{ value: { id: 'o1', qty: '9007199254740993', kind: 'B' } }],
      },
      PROTOBUF,
    );
    expect(proto.status).toBe(200);
    const [order] = await read('orders');
    expect(serde.deserialize(order!.value!).value).toEqual({ id: 'o1', qty: '9007199254740993', kind: 'B' });
  });

  it('rejects the whole request when one record is invalid, naming the record and the field', async () => {
    const before = await appended('payments');
    const r = await post(
      'payments',
      {
        value_schema: payment,
        records: [
          { value: { id: 'ok', amount: 1, note: null } },
          { value: { id: 'bad', amount: 'ten', note: null } },
        ],
      },
      AVRO,
    );
    expect(r.status).toBe(422);
    expect(r.body.error_code).toBe(42203);
    expect(r.body.message).toMatch(/^records\[1\]\.value/);
    expect(r.body.message).toMatch(/amount/);
    const proto = await post(
      'orders',
      {
        value_schema_id: s.registry.version('orders-value', -1).id,
        records: [{ value: { id: 'x', nope: 1 } }],
      },
      PROTOBUF,
    );
    expect([proto.status, proto.body.message]).toEqual([
      422,
      'records[0].value.nope is not a field of message Order',
    ]);
    const json = await post(
      'shipments',
      { value_schema_id: s.registry.version('shipments-value', -1).id, records: [{ value: { to: 5 } }] },
      JSONSCHEMA,
    );
    expect([json.status, json.body.message]).toEqual([422, 'records[0].value.to must be string']);
    expect(await appended('payments')).toBe(before);
  });

  it('asks for the schema a format needs and checks it fits the format', async () => {
    const noValueSchema = await post('mixed', { records: [{ value: { a: 1 } }] }, AVRO);
    expect([noValueSchema.status, noValueSchema.body.error_code]).toEqual([422, 42202]);
    const noKeySchema = await post(
      'mixed',
      { value_schema: payment, records: [{ key: 'k', value: { id: 'a', amount: 1, note: null } }] },
      AVRO,
    );
    expect([noKeySchema.status, noKeySchema.body.error_code]).toEqual([422, 42201]);
    const unknown = await post('mixed', { value_schema_id: 99999, records: [{ value: {} }] }, AVRO);
    expect([unknown.status, unknown.body.error_code]).toEqual([404, 40403]);
    const wrongType = await post(
      'mixed',
      { value_schema_id: s.registry.version('payments-value', -1).id, records: [{ value: { id: 'x' } }] },
      JSONSCHEMA,
    );
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.message).toMatch(/AVRO schema, but the request's format is JSON Schema/);
    const badSchema = await post(
      'mixed',
      { value_schema: '{"type":"nope"}', records: [{ value: {} }] },
      AVRO,
    );
    expect([badSchema.status, badSchema.body.error_code]).toEqual([422, 42201]);
  });

  it('makes a topic that requires a schema refuse schemaless records', async () => {
    const json = await post(
      'strict-payments',
      { records: [{ value: { id: 'x' } }] },
      'application/vnd.kafka.json.v2+json',
    );
    expect([json.status, json.body.error_code]).toEqual([422, 42202]);
    const garbage = await post(
      'strict-payments',
      { records: [{ value: Buffer.from('hello').toString('base64') }] },
      'application/vnd.kafka.binary.v2+json',
    );
    expect([garbage.status, garbage.body.error_code]).toEqual([422, 42203]);
    // Wire format, but with a schema of another subject.
    const foreign = serde.serialize(s.registry.version('payments-value', -1).id, {
      id: 'a',
      amount: 1,
      note: null,
    });
    const wrongSubject = await post(
      'strict-payments',
      { records: [{ value: foreign.toString('base64') }] },
      'application/vnd.kafka.binary.v2+json',
    );
    expect(wrongSubject.body.message).toMatch(/not a version of strict-payments-value/);
    const ok = await post(
      'strict-payments',
      { value_schema: payment, records: [{ value: { id: 'a', amount: 1, note: null } }] },
      AVRO,
    );
    expect(ok.status).toBe(200);
    const framed = serde.serialize(ok.body.value_schema_id, { id: 'b', amount: 2, note: null });
    const binary = await post(
      'strict-payments',
      { records: [{ value: framed.toString('base64') }] },
      'application/vnd.kafka.binary.v2+json',
    );
    expect(binary.status).toBe(200);
    expect(await appended('strict-payments')).toBe(2);
  });
});
