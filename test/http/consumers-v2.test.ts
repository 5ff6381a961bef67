import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_V2, startTestServer, type TestServer } from './http-helpers.ts';

const V2 = 'application/vnd.kafka.v2+json';

describe('REST Proxy v2 consumers and record reads', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    await s.bus.createTopic('feed', { partitions: 2 });
    await s.app.inject({
      method: 'POST',
      url: '/topics/feed',
      headers: { 'content-type': JSON_V2 },
      payload: { records: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: { i } })) },
    });
    await s.bus.producer().send([{ topic: 'feed', partition: 0, value: Buffer.from([0xff, 0x00]) }]);
  });
  afterAll(async () => s.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as object, headers: { 'content-type': V2 } }),
    });

  async function instance(group: string, body: Record<string, unknown>) {
    const created = await call('POST', `/consumers/${group}`, body);
    expect(created.statusCode).toBe(200);
    const { instance_id, base_uri } = created.json();
    expect(base_uri).toContain(`/consumers/${group}/instances/${instance_id}`);
    return `/consumers/${group}/instances/${instance_id}`;
  }

  async function fetchAll(path: string, count: number) {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 20 && out.length < count; i++)
      out.push(...(await call('GET', `${path}/records?timeout=200`)).json());
    return out;
  }

  it('reads every record through a JSON consumer, commits, and resumes after the commit', async () => {
    const path = await instance('g1', { format: 'json', 'auto.offset.reset': 'earliest' });
    expect((await call('POST', `${path}/subscription`, { topics: ['feed'] })).statusCode).toBe(204);
    const records = await fetchAll(path, 11);
    expect(records).toHaveLength(11);
    const values = records
      .filter((r) => r.value_encoding === undefined)
      .map((r) => (r.value as { i: number }).i);
    expect(values.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const raw = records.find((r) => r.value_encoding === 'base64')!;
    expect(Buffer.from(raw.value as string, 'base64')).toEqual(Buffer.from([0xff, 0x00]));
    for (const r of records)
      expect(r).toMatchObject({
        topic: 'feed',
        partition: expect.any(Number),
        offset: expect.any(Number),
        timestamp: expect.any(Number),
      });
    expect((await call('POST', `${path}/offsets`, {})).statusCode).toBe(204);
    expect((await call('DELETE', path)).statusCode).toBe(204);
    expect((await s.bus.committedOffsets('g1', 'feed')).reduce((n, o) => n + o.offset, 0)).toBe(11);

    const again = await instance('g1', { format: 'json', 'auto.offset.reset': 'earliest' });
    await call('POST', `${again}/subscription`, { topics: ['feed'] });
    expect((await call('GET', `${again}/records?timeout=100`)).json()).toEqual([]);
    await call('DELETE', again);
  });

  it('returns base64 in the binary format and commits automatically when asked', async () => {
    const path = await instance('g2', {
      format: 'binary',
      'auto.offset.reset': 'earliest',
      'auto.commit.enable': 'true',
    });
    await call('POST', `${path}/subscription`, { topics: ['feed'] });
    const records = await fetchAll(path, 11);
    expect(records).toHaveLength(11);
    expect(records.some((r) => Buffer.from(r.value as string, 'base64').toString() === '{"i":3}')).toBe(true);
    expect((await s.bus.committedOffsets('g2', 'feed')).reduce((n, o) => n + o.offset, 0)).toBe(11);
    await call('DELETE', path);
  });

  it.each([
    ['an unknown instance', () => call('GET', '/consumers/g3/instances/nope/records'), 404, 40403],
    [
      'a duplicate instance name',
      async () => {
        await call('POST', '/consumers/g3', { name: 'same' });
        return call('POST', '/consumers/g3', { name: 'same' });
      },
      409,
      40902,
    ],
    ['an unknown format', () => call('POST', '/consumers/g3', { format: 'avro' }), 422, 42204],
    [
      'a subscription without topics',
      async () => call('POST', `${await instance('g3', {})}/subscription`, { topics: [] }),
      422,
      422,
    ],
    [
      'a subscription to an unknown topic',
      async () => call('POST', `${await instance('g3', {})}/subscription`, { topics: ['missing'] }),
      404,
      40401,
    ],
    [
      'bad offsets',
      async () => call('POST', `${await instance('g3', {})}/offsets`, { offsets: [{ topic: 'feed' }] }),
      422,
      422,
    ],
    [
      'a negative timeout',
      async () => call('GET', `${await instance('g3', {})}/records?timeout=-1`),
      400,
      400,
    ],
  ])('rejects %s', async (_name, send, status, code) => {
    const response = await send();
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ error_code: code, message: expect.any(String) });
  });

  it('reads records statelessly for the dashboard', async () => {
    const response = await call('GET', '/v1/topics/feed/records?partition=0&offset=0&limit=3');
    expect(response.statusCode).toBe(200);
    const { records } = response.json();
    expect(records).toHaveLength(3);
    expect(records.map((r: { offset: number }) => r.offset)).toEqual([0, 1, 2]);
    const all = (await call('GET', '/v1/topics/feed/records?limit=1000')).json().records;
    expect(all).toHaveLength(11);
    const described = (await call('GET', '/v1/topics/feed')).json();
    expect(described.offsets.reduce((n: number, o: { end: number }) => n + o.end, 0)).toBe(11);
    expect((await call('GET', '/v1/topics/feed/records?partition=9')).statusCode).toBe(404);
    expect((await call('GET', '/v1/topics/feed/records?limit=abc')).statusCode).toBe(400);
    expect((await call('GET', '/v1/topics/missing/records')).json().error_code).toBe(40401);
  });
});
