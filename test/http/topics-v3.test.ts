import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-helpers.ts';

describe('REST Proxy v3 topic admin', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ clusterId: 'c1' });
  });
  afterAll(async () => s.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      ...(payload === undefined
        ? {}
        : { payload: payload as object, headers: { 'content-type': 'application/json' } }),
    });

  it('lists the one cluster', async () => {
    const response = await call('GET', '/v3/clusters');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      kind: 'KafkaClusterList',
      data: [{ kind: 'KafkaCluster', cluster_id: 'c1' }],
    });
    expect((await call('GET', '/v3/clusters/c1')).json().cluster_id).toBe('c1');
    expect((await call('GET', '/v3/clusters/other')).statusCode).toBe(404);
  });

  it('creates, lists, describes and deletes a topic', async () => {
    const created = await call('POST', '/v3/clusters/c1/topics', {
      topic_name: 'events',
      partitions_count: 4,
      replication_factor: 1,
      configs: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'retention.ms', value: '86400000' },
      ],
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      kind: 'KafkaTopic',
      cluster_id: 'c1',
      topic_name: 'events',
      partitions_count: 4,
      is_internal: false,
    });
    expect(await s.bus.describeTopic('events')).toMatchObject({
      partitions: 4,
      compacted: true,
      retentionMs: 86_400_000,
    });

    const list = (await call('GET', '/v3/clusters/c1/topics')).json();
    expect(list.kind).toBe('KafkaTopicList');
    expect(list.data.map((t: { topic_name: string }) => t.topic_name)).toContain('events');
    expect(
      list.data.find((t: { topic_name: string }) => t.topic_name === '__consumer_offsets').is_internal,
    ).toBe(true);

    expect((await call('GET', '/v3/clusters/c1/topics/events')).json().partitions_count).toBe(4);
    const partitions = (await call('GET', '/v3/clusters/c1/topics/events/partitions')).json();
    expect(partitions.data.map((p: { partition_id: number }) => p.partition_id)).toEqual([0, 1, 2, 3]);

    expect((await call('DELETE', '/v3/clusters/c1/topics/events')).statusCode).toBe(204);
    const gone = await call('GET', '/v3/clusters/c1/topics/events');
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toEqual({ error_code: 40403, message: expect.any(String) });
  });

  it.each([
    ['an existing topic', { topic_name: 'dup' }, 400, 40002],
    ['an invalid name', { topic_name: 'no spaces' }, 422, 422],
    ['no name', { partitions_count: 1 }, 400, 400],
    ['zero partitions', { topic_name: 'zero', partitions_count: 0 }, 422, 422],
    [
      'an unknown config',
      { topic_name: 'cfg', configs: [{ name: 'min.insync.replicas', value: '2' }] },
      400,
      40002,
    ],
    [
      'a bad config value',
      { topic_name: 'cfg2', configs: [{ name: 'retention.ms', value: 'soon' }] },
      400,
      40002,
    ],
    ['several replicas', { topic_name: 'rf', replication_factor: 3 }, 400, 40002],
  ])('rejects %s', async (_name, payload, status, code) => {
    await s.bus.createTopic('dup', { partitions: 1 }).catch(() => {});
    const topics = await s.bus.listTopics();
    const response = await call('POST', '/v3/clusters/c1/topics', payload);
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ error_code: code, message: expect.any(String) });
    expect(await s.bus.listTopics()).toEqual(topics);
  });

  it('serves health and readiness', async () => {
    expect((await call('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz')).json()).toEqual({ status: 'ready', bus: 'embedded' });
  });
});

describe('readiness of what the server runs beside', () => {
  let s: TestServer;
  let reasons: string[] = ['pipeline p is restoring the state of 2 task(s)'];
  beforeAll(async () => {
    s = await startTestServer({
      readiness: () => ({ notReady: reasons, notes: ['source t partition 1 is idle'] }),
    });
  });
  afterAll(async () => s.close());

  it('is not ready while a pipeline restores, and ready once it has', async () => {
    const before = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({
      status: 'not ready',
      reason: 'pipeline p is restoring the state of 2 task(s)',
      notes: ['source t partition 1 is idle'],
    });
    reasons = [];
    const after = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({
      status: 'ready',
      bus: 'embedded',
      notes: ['source t partition 1 is idle'],
    });
  });
});
