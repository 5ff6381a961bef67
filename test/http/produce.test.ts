import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY_V2, JSON_V2, startTestServer, type TestServer } from './http-helpers.ts';

describe('REST Proxy v2 produce', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({
      maxBodyBytes: 256 * 1024,
      maxRecordBytes: 1024,
      maxRecordsPerRequest: 10_000,
    });
    await s.bus.createTopic('orders', { partitions: 3 });
  });
  afterAll(async () => s.close());

  const post = (url: string, payload: unknown, contentType = JSON_V2) =>
    s.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': contentType },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('appends JSON records and answers with the REST Proxy offsets shape', async () => {
    const before = await s.appended('orders');
    const response = await post('/topics/orders', {
      records: [{ key: 'm1', value: { amount: 10 } }, { value: [1, 2] }],
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('application/vnd.kafka.v2+json');
    const body = response.json();
    expect(body).toMatchObject({ key_schema_id: null, value_schema_id: null });
    expect(body.offsets).toHaveLength(2);
    for (const o of body.offsets)
      expect(o).toEqual({
        partition: expect.any(Number),
        offset: expect.any(Number),
        error_code: null,
        error: null,
      });
    expect(await s.appended('orders')).toBe(before + 2);
    const c = s.bus.consumer({});
    await c.assign([
      { topic: 'orders', partition: body.offsets[0].partition, offset: body.offsets[0].offset },
    ]);
    const [record] = await c.poll({ maxRecords: 1, timeoutMs: 1000 });
    expect(JSON.parse(record!.value!.toString())).toEqual({ amount: 10 });
    expect(record!.key!.toString()).toBe('"m1"');
    await c.close();
  });

  it('accepts application/json and the binary format, and an explicit partition', async () => {
    const json = await post(
      '/topics/orders',
      { records: [{ value: 'plain', partition: 2 }] },
      'application/json',
    );
    expect(json.statusCode).toBe(200);
    expect(json.json().offsets[0].partition).toBe(2);
    const binary = await post(
      '/topics/orders/partitions/1',
      { records: [{ key: 'AQI=', value: Buffer.from('bytes').toString('base64') }] },
      BINARY_V2,
    );
    expect(binary.statusCode).toBe(200);
    expect(binary.json().offsets[0].partition).toBe(1);
  });

  it('takes thousands of records in one request', async () => {
    const before = await s.appended('orders');
    const records = Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, value: i }));
    const response = await post('/topics/orders', { records });
    expect(response.statusCode).toBe(200);
    expect(response.json().offsets).toHaveLength(5000);
    expect(await s.appended('orders')).toBe(before + 5000);
  });

  describe('rejects hostile input whole, appends nothing and keeps serving', () => {
    const cases: Array<[string, () => Promise<{ statusCode: number; json(): unknown }>, number, number]> = [
      ['malformed JSON', () => post('/topics/orders', '{"records":[{"value":1}'), 400, 400],
      ['a JSON body that is not an object', () => post('/topics/orders', '[1,2,3]'), 422, 422],
      ['no records array', () => post('/topics/orders', { value: 1 }), 422, 422],
      ['an empty records array', () => post('/topics/orders', { records: [] }), 422, 422],
      [
        'a record that is not an object',
        () => post('/topics/orders', { records: [{ value: 1 }, 7] }),
        422,
        422,
      ],
      [
        'a negative partition',
        () => post('/topics/orders', { records: [{ value: 1, partition: -1 }] }),
        422,
        422,
      ],
      [
        'an unknown partition',
        () => post('/topics/orders', { records: [{ value: 1 }, { value: 2, partition: 99 }] }),
        404,
        40402,
      ],
      [
        'an unknown partition in the path',
        () => post('/topics/orders/partitions/x', { records: [{ value: 1 }] }),
        404,
        40402,
      ],
      ['a wrong content type', () => post('/topics/orders', 'value=1', 'text/plain'), 415, 415],
      [
        'a schema format not yet supported',
        () => post('/topics/orders', { records: [{ value: 1 }] }, 'application/vnd.kafka.avro.v2+json'),
        415,
        415,
      ],
      [
        'bad base64 in the binary format',
        () => post('/topics/orders', { records: [{ value: 'not base64!' }] }, BINARY_V2),
        422,
        42205,
      ],
      [
        'a body over the limit',
        () => post('/topics/orders', { records: [{ value: 'x'.repeat(300 * 1024) }] }),
        413,
        413,
      ],
      [
        'a record over the limit',
        () => post('/topics/orders', { records: [{ value: 'ok' }, { value: 'x'.repeat(2000) }] }),
        413,
        413,
      ],
      [
        'too many records',
        () => post('/topics/orders', { records: Array.from({ length: 10_001 }, () => ({ value: 0 })) }),
        413,
        413,
      ],
      [
        'prototype poisoning',
        () => post('/topics/orders', '{"records":[{"value":1}],"__proto__":{"polluted":true}}'),
        400,
        400,
      ],
      ['an unknown topic', () => post('/topics/missing', { records: [{ value: 1 }] }), 404, 40401],
      ['an invalid topic name', () => post('/topics/bad%20name', { records: [{ value: 1 }] }), 404, 40401],
    ];
    it.each(cases)('%s', async (_name, send, status, errorCode) => {
      const before = await s.appended('orders');
      const response = await send();
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({ error_code: errorCode, message: expect.any(String) });
      expect(await s.appended('orders')).toBe(before);
      expect(await s.bus.listTopics()).toEqual(['orders']);
      const healthy = await post('/topics/orders', { records: [{ value: 'after' }] });
      expect(healthy.statusCode).toBe(200);
    });
  });
});

describe('REST Proxy v2 produce with topic auto-creation', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ autoCreateTopics: true, defaultPartitions: 2 });
  });
  afterAll(async () => s.close());

  it('creates an unknown topic on first produce when configured to', async () => {
    const response = await s.app.inject({
      method: 'POST',
      url: '/topics/fresh',
      headers: { 'content-type': JSON_V2 },
      payload: { records: [{ value: 1 }] },
    });
    expect(response.statusCode).toBe(200);
    expect((await s.bus.describeTopic('fresh')).partitions).toBe(2);
  });

  it('still rejects an invalid topic name', async () => {
    const response = await s.app.inject({
      method: 'POST',
      url: '/topics/has..%2Fslash',
      headers: { 'content-type': JSON_V2 },
      payload: { records: [{ value: 1 }] },
    });
    expect(response.statusCode).toBe(422);
    expect(await s.bus.listTopics()).toEqual(['fresh']);
  });
});
