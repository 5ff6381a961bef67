import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../src/core/index.ts';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { sample } from '../support/prometheus-text.ts';
import { tempDir } from '../support/temp-dir.ts';
import { revenuePipeline, run, startWorker } from './cli-helpers.ts';

const PAYMENTS = 40;

/**
 * `kappa worker --metrics-port`: a worker serves its own metrics, status and health (behind the
 * same keys as `kappa up`), and nothing of the API.
 */
describe('kappa worker --metrics-port', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let config: string;
  const monitor = generateApiKey();
  const data = () => path.join(temp.dir, 'data');

  beforeAll(async () => {
    temp = await tempDir('kappa-worker-metrics-');
    config = await revenuePipeline(temp.dir, {
      view: 'worker_revenue',
      configYaml: `auth:\n  keys:\n    - name: prometheus\n      hash: ${JSON.stringify(hashApiKey(monitor))}\n      scopes: [monitor]\n`,
    });
    // The payments are there before the worker starts: it has the data folder to itself.
    const bus = await openEmbeddedBus({ dataDir: data() });
    await bus.createTopic('payments', { partitions: 2 });
    const producer = bus.producer();
    await producer.send(
      Array.from({ length: PAYMENTS }, (_, i) => ({
        topic: 'payments',
        key: Buffer.from(`m${i % 3}`),
        value: Buffer.from(
          JSON.stringify({ merchant: `m${i % 3}`, amount: i % 10 === 9 ? -1 : 5, ts: i * 100 }),
        ),
      })),
    );
    await producer.close();
    await bus.close();
  });
  afterAll(async () => temp?.remove());

  it('counts its pipeline’s records, answers its status and health, and serves no API', async () => {
    const w = await startWorker(['--data-dir', data(), '--config', config, '--metrics-port', '0']);
    try {
      const url = /metrics at (\S+)\/metrics/.exec(w.line)?.[1];
      expect(url, w.line).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const get = (route: string, key?: string) =>
        fetch(`${url}${route}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      expect((await get('/metrics')).status).toBe(401);
      expect((await get('/metrics', generateApiKey())).status).toBe(401);
      // Every payment read, and the four negative amounts thrown on in the map step.
      const deadline = Date.now() + 60_000;
      let text = '';
      const step = (name: string, direction: string) =>
        sample(text, 'kappa_pipeline_step_records_total', { pipeline: 'revenue', step: name, direction }) ??
        0;
      while (step('map-1', 'in') < PAYMENTS) {
        if (Date.now() > deadline)
          throw new Error(`the worker's metrics never counted the payments:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
        const response = await get('/metrics', monitor);
        expect(response.status).toBe(200);
        text = await response.text();
      }
      expect([step('map-1', 'in'), step('map-1', 'out')]).toEqual([PAYMENTS, PAYMENTS - 4]);
      expect(
        sample(text, 'kappa_dead_letters_total', { pipeline: 'revenue', step: 'map-1', reason: 'error' }),
      ).toBe(4);
      const status = (await (await get('/v1/status', monitor)).json()) as {
        pipelines: Array<{ name: string; state: string }>;
      };
      expect(status.pipelines).toEqual([expect.objectContaining({ name: 'revenue', state: 'running' })]);
      expect((await get('/readyz')).status).toBe(200);
      // No API: produce, records and the dashboard are not there.
      for (const route of ['/v1/topics/payments', '/', '/v1/views'])
        expect((await get(route, monitor)).status, route).toBe(404);
      const produce = await fetch(`${url}/topics/payments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${monitor}`, 'content-type': 'application/vnd.kafka.json.v2+json' },
        body: JSON.stringify({ records: [{ value: 1 }] }),
      });
      expect(produce.status).toBe(404);
    } finally {
      w.process.kill('SIGTERM');
      expect(await new Promise((r) => w.process.once('exit', r))).toBe(0);
    }
  }, 90_000);

  it('refuses a bad port, and a public address without keys, with a clear error', async () => {
    const worker = (args: string[]) => run(['worker', '--data-dir', path.join(temp.dir, 'other'), ...args]);
    const bad = await worker(['--metrics-port', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--metrics-port must be a port number (0 picks a free one), got 'lots'");
    const open = await worker(['--metrics-port', '0', '--host', '0.0.0.0']);
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain('Refusing to listen on 0.0.0.0 without API keys');
  }, 60_000);
});
