import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revenuePipeline, startUp } from '../cli/cli-helpers.ts';
import { sample } from '../support/prometheus-text.ts';
import { tempDir } from '../support/temp-dir.ts';

const V2 = 'application/vnd.kafka.json.v2+json';

/**
 * Every metric of `GET /metrics` moves when its event happens, in a real `kappa up`: produce, the
 * pipeline's steps, a window firing, dead letters of each reason, a late record, commits, a view's
 * upserts and lookups, a query, the registry, consumer lag, and the restore of a restart.
 */
describe('GET /metrics of kappa up', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let up: ChildProcess | undefined;
  let url: string;
  let config: string;
  const data = () => path.join(temp.dir, 'data');

  async function start(): Promise<void> {
    ({ process: up, url } = await startUp(['--port', '0', '--data-dir', data(), '--config', config]));
  }

  beforeAll(async () => {
    temp = await tempDir('kappa-metrics-up-');
    config = await revenuePipeline(temp.dir, { view: 'metric_revenue' });
    await start();
  });
  afterAll(async () => {
    if (up?.exitCode === null) up.kill('SIGKILL');
    await temp.remove();
  });

  const metrics = async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  const post = (route: string, body: unknown, type = V2) =>
    fetch(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: JSON.stringify(body),
    });
  /** Reads /metrics until `ok` holds of it. */
  async function until(ok: (text: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const text = await metrics();
      if (ok(text)) return text;
      if (Date.now() > deadline) throw new Error(`/metrics never showed ${what}:\n${text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const at = (text: string, name: string, labels: Record<string, string> = {}) =>
    sample(text, name, labels) ?? 0;

  it('count what the log, the pipeline and the view do', async () => {
    const before = await metrics();
    expect(at(before, 'kappa_log_appended_records_total', { topic: 'payments' })).toBe(0);
    const payments = (values: unknown[]) =>
      post('/topics/payments', { records: values.map((value) => ({ value })) });
    expect(
      (
        await payments([
          { merchant: 'm1', amount: 10, ts: 100 },
          { merchant: 'm1', amount: -1, ts: 200 },
          { merchant: 'm2', amount: 5, ts: 300 },
          { merchant: 'm1', amount: 1, ts: 1500 },
          { merchant: 'm1', amount: 2, ts: 2600 },
        ])
      ).status,
    ).toBe(200);
    const poison = await post(
      '/topics/payments',
      { records: [{ value: Buffer.from('not json').toString('base64') }] },
      'application/vnd.kafka.binary.v2+json',
    );
    expect(poison.status).toBe(200);
    // The watermark is past 2600: a record of the first window is too late for it.
    let text = await until(
      (t) => at(t, 'kappa_pipeline_windows_fired_total', { pipeline: 'revenue' }) >= 3,
      'three windows fired (m1 and m2 in [0, 1000), m1 in [1000, 2000))',
    );
    expect((await payments([{ merchant: 'm1', amount: 7, ts: 50 }])).status).toBe(200);
    text = await until(
      (t) => at(t, 'kappa_pipeline_late_records_total', { pipeline: 'revenue', step: 'window-1' }) === 1,
      'the late record',
    );
    expect(at(text, 'kappa_log_appended_records_total', { topic: 'payments' })).toBe(7);
    expect(at(text, 'kappa_log_appended_bytes_total', { topic: 'payments' })).toBeGreaterThan(100);
    // The map step: six decoded records in, one thrown on; keyBy the five left.
    const step = (name: string, direction: string) =>
      at(text, 'kappa_pipeline_step_records_total', { pipeline: 'revenue', step: name, direction });
    expect([
      step('map-1', 'in'),
      step('map-1', 'out'),
      step('keyBy-1', 'in'),
      step('keyBy-1', 'out'),
    ]).toEqual([6, 5, 5, 5]);
    expect(step('window-1', 'in')).toBe(5);
    expect(step('window-1', 'out')).toBe(
      at(text, 'kappa_pipeline_windows_fired_total', { pipeline: 'revenue' }),
    );
    expect(at(text, 'kappa_pipeline_read_records_total', { pipeline: 'revenue', stage: '0' })).toBe(7);
    text = await until(
      (t) =>
        at(t, 'kappa_dead_letters_total', { pipeline: 'revenue', reason: 'late' }) === 1 &&
        at(t, 'kappa_view_upserts_total', { view: 'metric_revenue' }) >= 3,
      'the late dead letter and the view’s rows',
    );
    expect(
      at(text, 'kappa_dead_letters_total', { pipeline: 'revenue', step: 'map-1', reason: 'error' }),
    ).toBe(1);
    expect(
      at(text, 'kappa_dead_letters_total', { pipeline: 'revenue', step: 'source', reason: 'decode' }),
    ).toBe(1);
    expect(at(text, 'kappa_pipeline_commit_seconds_count', { pipeline: 'revenue' })).toBeGreaterThan(0);
    expect(at(text, 'kappa_pipeline_watermark_delay_seconds', { pipeline: 'revenue' })).toBeGreaterThan(1e6);
    expect(at(text, 'kappa_topic_partitions', { topic: 'payments' })).toBe(1);
    expect(at(text, 'kappa_topic_records', { topic: 'payments' })).toBe(7);
    expect(at(text, 'kappa_topic_records', { topic: 'dead-letters' })).toBe(3);
    expect(sample(text, 'kappa_view_rows', { view: 'metric_revenue' })).toBe(3);
    expect(sample(text, 'kappa_view_materializer_lag_records', { view: 'metric_revenue' })).toBe(0);
    expect(
      sample(text, 'kappa_consumer_lag_records', { group: 'kappa-pipeline-revenue', topic: 'payments' }),
    ).toBe(0);
    expect(
      at(text, 'kappa_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/topics/:topic',
        status: '200',
      }),
    ).toBe(3);
  });

  it('count lookups, queries, registry lookups and a group’s lag', async () => {
    // m1's row was offered to the cache as the materializer wrote it; nobody's absence is cached by the first lookup.
    for (const key of ['m1', 'nobody', 'nobody'])
      expect((await fetch(`${url}/v1/views/metric_revenue/keys/${key}`)).status).toBe(
        key === 'm1' ? 200 : 404,
      );
    const sql = await post('/v1/query', { sql: 'SELECT count(*) FROM metric_revenue' }, 'application/json');
    expect(sql.status).toBe(200);
    const SR = 'application/vnd.schemaregistry.v1+json';
    const schema = JSON.stringify({ type: 'record', name: 'P', fields: [{ name: 'id', type: 'string' }] });
    const registered = await post('/subjects/p-value/versions', { schema }, SR);
    expect(registered.status).toBe(200);
    const { id } = (await registered.json()) as { id: number };
    expect((await fetch(`${url}/schemas/ids/${id}`)).status).toBe(200);
    expect((await fetch(`${url}/schemas/ids/9999`)).status).toBe(404);
    // A group that read everything and committed, then falls behind by what comes after.
    const created = await post('/consumers/readers', { format: 'json', 'auto.offset.reset': 'earliest' });
    const base = `/consumers/readers/instances/${((await created.json()) as { instance_id: string }).instance_id}`;
    expect((await post(`${base}/subscription`, { topics: ['payments'] })).status).toBe(204);
    let read = 0;
    for (let i = 0; i < 30 && read < 7; i++)
      read += (
        (await (
          await fetch(`${url}${base}/records?timeout=200`, { headers: { accept: V2 } })
        ).json()) as unknown[]
      ).length;
    expect(read).toBe(7);
    expect((await post(`${base}/offsets`, {})).status).toBe(204);
    const lag = () =>
      sample(text, 'kappa_consumer_lag_records', { group: 'readers', topic: 'payments', partition: '0' });
    let text = await metrics();
    expect(lag()).toBe(0);
    await post('/topics/payments', {
      records: [1, 2, 3, 4].map((i) => ({ value: { merchant: `x${i}`, amount: 1, ts: 5000 } })),
    });
    text = await metrics();
    expect(lag()).toBe(4);
    expect(at(text, 'kappa_view_cache_lookups_total', { view: 'metric_revenue', result: 'miss' })).toBe(1);
    expect(at(text, 'kappa_view_cache_lookups_total', { view: 'metric_revenue', result: 'hit' })).toBe(2);
    expect(at(text, 'kappa_view_query_seconds_count', { kind: 'latest' })).toBe(3);
    expect(at(text, 'kappa_view_query_seconds_count', { kind: 'sql' })).toBe(1);
    expect(at(text, 'kappa_registry_lookups_total', { by: 'id', result: 'found' })).toBeGreaterThanOrEqual(1);
    // A missing id is looked up again once the registry has read its log to the end.
    expect(at(text, 'kappa_registry_lookups_total', { by: 'id', result: 'missing' })).toBe(2);
    expect(
      at(text, 'kappa_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/schemas/ids/:id',
        status: '404',
      }),
    ).toBe(1);
    // The windows of the records at 5000 are open: their state is in the changelog.
    text = await until(
      (t) => at(t, 'kappa_state_changelog_records', { topic: 'kappa-revenue-window-1-changelog' }) > 0,
      'the open windows in the changelog',
    );
    // Node's own: the process's memory and event loop.
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();
  });

  it('time the restore of a restart that reads the changelog', async () => {
    up!.kill('SIGTERM');
    await new Promise((r) => up!.once('exit', r));
    // Without the local state, the task's state comes back from its changelog.
    await rm(path.join(data(), 'state'), { recursive: true, force: true });
    await start();
    const text = await until(
      (t) => at(t, 'kappa_state_restore_seconds_count', { pipeline: 'revenue' }) >= 1,
      'a restore',
    );
    expect(at(text, 'kappa_state_restored_records_total', { pipeline: 'revenue' })).toBeGreaterThan(0);
    // A counter starts again with the process; the gauges read the log.
    expect(at(text, 'kappa_log_appended_records_total', { topic: 'payments' })).toBe(0);
    expect(at(text, 'kappa_topic_records', { topic: 'payments' })).toBe(11);
  });
});
