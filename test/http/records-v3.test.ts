import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireSerde } from '../../src/registry/index.ts';
import { avroRecord, type RegistryServer, startRegistryServer } from '../registry/registry-helpers.ts';

describe('REST Proxy v3 produce (/v3/clusters/{cluster}/topics/{topic}/records)', () => {
  let s: RegistryServer;
  const path = (topic: string) => `/v3/clusters/kappa/topics/${topic}/records`;
  const post = (topic: string, body: string) =>
    fetch(`${s.url}${path(topic)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
  const read = async (topic: string) => {
    const consumer = s.bus.consumer({ reset: 'earliest' });
    const ranges = await s.bus.partitionOffsets(topic);
    await consumer.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: 0 })));
    const records = await consumer.poll({ timeoutMs: 200, maxRecords: 1000 });
    await consumer.close();
    return records;
  };

  beforeAll(async () => {
    s = await startRegistryServer();
    await s.bus.createTopic('orders', { partitions: 2 });
    await s.bus.createTopic('typed', { partitions: 1 });
    await s.bus.createTopic('stream', { partitions: 1 });
    await s.registry.register('typed-value', {
      schemaType: 'AVRO',
      references: [],
      schema: avroRecord('Order', [
        { name: 'id', type: 'string' },
        { name: 'qty', type: 'int' },
      ]),
    });
  });
  afterAll(async () => s?.close());

  it('produces one record and answers with where it went, as Confluent’s REST Proxy', async () => {
    const response = await post(
      'orders',
      JSON.stringify({
        partition_id: 1,
        headers: [{ name: 'trace', value: Buffer.from('t-1').toString('base64') }],
        key: { type: 'STRING', data: 'o-1' },
        value: { type: 'JSON', data: { qty: 2 } },
        timestamp: '2026-01-02T03:04:05.000Z',
      }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      error_code: 200,
      cluster_id: 'kappa',
      topic_name: 'orders',
      partition_id: 1,
      offset: 0,
      timestamp: '2026-01-02T03:04:05.000Z',
      key: { type: 'STRING', size: 3 },
      value: { type: 'JSON', size: 9 },
    });
    const [record] = await read('orders');
    expect([
      record!.key!.toString(),
      record!.value!.toString(),
      record!.headers.trace!.toString(),
      record!.timestamp,
    ]).toEqual(['o-1', '{"qty":2}', 't-1', Date.parse('2026-01-02T03:04:05.000Z')]);
  });

  it('takes records one after another in one request (streaming mode), each answered on its line, a bad one alone refused', async () => {
    const body = [
      { value: { type: 'BINARY', data: Buffer.from('a').toString('base64') } },
      { partition_id: 9, value: { type: 'JSON', data: 'lost' } },
      { value: { type: 'JSON', data: 'c' } },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const response = await post('stream', body);
    expect(response.status).toBe(200);
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.error_code, l.offset ?? null])).toEqual([
      [200, 0],
      [404, null],
      [200, 1],
    ]);
    expect(lines[1].message).toMatch(/Partition 9/);
    expect((await read('stream')).map((r) => r.value!.toString())).toEqual(['a', '"c"']);
    // Concatenated without separators, as a chunked stream may send them.
    const glued = await post(
      'stream',
      '{"value":{"type":"JSON","data":1}}{"value":{"type":"JSON","data":2}}',
    );
    expect((await glued.text()).trim().split('\n')).toHaveLength(2);
  });

  it('writes data with a registered schema in wire format: by id, by version, or the subject’s latest', async () => {
    const serde = new WireSerde(s.registry);
    const id = s.registry.version('typed-value', 1).id;
    const body = [
      { value: { schema_id: id, data: { id: 'a', qty: 1 } } },
      { value: { schema_version: 1, data: { id: 'b', qty: 2 } } },
      { value: { data: { id: 'c', qty: 3 } } },
      { value: { data: { id: 'd', qty: 'four' } } },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const lines = (await (await post('typed', body)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, 3).map((l) => l.value)).toEqual([
      { type: 'AVRO', size: expect.any(Number), schema_id: id },
      { type: 'AVRO', size: expect.any(Number), schema_id: id, schema_version: 1, subject: 'typed-value' },
      { type: 'AVRO', size: expect.any(Number), schema_id: id, schema_version: 1, subject: 'typed-value' },
    ]);
    expect(lines[3]).toMatchObject({ error_code: 422, message: expect.stringContaining('qty') });
    expect((await read('typed')).map((r) => serde.deserialize(r.value!).value)).toEqual([
      { id: 'a', qty: 1 },
      { id: 'b', qty: 2 },
      { id: 'c', qty: 3 },
    ]);
  });

  it('refuses hostile and malformed requests with the v3 error shape', async () => {
    const status = async (topic: string, body: string) => {
      const r = await post(topic, body);
      return [r.status, ((await r.json()) as { error_code: number }).error_code];
    };
    expect(await status('missing', '{"value":{"type":"JSON","data":1}}')).toEqual([404, 40403]);
    expect(await status('_schemas', '{"value":{"type":"JSON","data":1}}')).toEqual([403, 40301]);
    expect(await status('orders', '{"value":')).toEqual([400, 400]);
    expect(await status('orders', '{"__proto__":{"x":1}}')).toEqual([400, 400]);
    expect(await status('orders', '{"value":{"type":"BINARY","data":"%%%"}}')).toEqual([400, 400]);
    const wrong = await fetch(`${s.url}/v3/clusters/other/topics/orders/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(wrong.status).toBe(404);
  });
});
