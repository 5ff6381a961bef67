import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startUp } from '../cli/cli-helpers.ts';
import { type PrometheusServer, prometheusAvailable, startPrometheus } from '../support/prometheus.ts';
import { tempDir } from '../support/temp-dir.ts';

const OPS = path.join(import.meta.dirname, '..', '..', 'ops', 'prometheus');
const hasPrometheus = prometheusAvailable();

/** A real Prometheus scrapes a real `kappa up` with a monitor key, and Kappa's alert rules load and pass their tests. */
describe.skipIf(!hasPrometheus)('Prometheus', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let up: ChildProcess | undefined;
  let prometheus: PrometheusServer | undefined;
  let url: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    temp = await tempDir('kappa-prometheus-up-');
    for (const [name, scope] of [
      ['prometheus', 'monitor'],
      ['ops', 'admin'],
      ['ingest', 'produce:*'],
    ] as const) {
      const made = await run(['keys', 'create', name, '--scope', scope], undefined, { cwd: temp.dir });
      expect(made.code).toBe(0);
      keys[name] = made.stdout.trim();
    }
    ({ process: up, url } = await startUp(['--port', '0', '--data-dir', path.join(temp.dir, 'data')], {
      cwd: temp.dir,
    }));
  });
  afterAll(async () => {
    await prometheus?.stop();
    if (up?.exitCode === null) up.kill('SIGKILL');
    await temp.remove();
  });

  it('promtool checks the alert rules and their unit tests pass', async () => {
    const promtool = promisify(execFile);
    const checked = await promtool('promtool', ['check', 'rules', path.join(OPS, 'alerts.yml')]);
    expect(checked.stdout).toMatch(/SUCCESS: 5 rules found/);
    const tested = await promtool('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: OPS });
    expect(`${tested.stdout}${tested.stderr}`).toMatch(/SUCCESS/);
  });

  it('scrapes /metrics with the monitor key, and answers a Kappa metric through its HTTP API', async () => {
    // A key without the monitor scope is refused the metrics.
    expect(
      (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${keys.ingest}` } })).status,
    ).toBe(403);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect(await run(['--url', url, '--api-key', keys.ops!, 'topics', 'create', 'orders'])).toMatchObject({
      code: 0,
    });
    const produced = await fetch(`${url}/topics/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.kafka.json.v2+json',
        authorization: `Bearer ${keys.ingest}`,
      },
      body: JSON.stringify({ records: [1, 2, 3, 4, 5].map((i) => ({ value: { i } })) }),
    });
    expect(produced.status).toBe(200);
    prometheus = await startPrometheus({
      target: url,
      apiKey: keys.prometheus!,
      ruleFiles: [path.join(OPS, 'alerts.yml')],
    });
    const deadline = Date.now() + 60_000;
    let appended: Awaited<ReturnType<PrometheusServer['query']>> = [];
    while (Date.now() < deadline) {
      appended = await prometheus.query('kappa_log_appended_records_total{topic="orders"}');
      if (appended.length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(appended).toEqual([
      { metric: expect.objectContaining({ job: 'kappa', topic: 'orders' }), value: 5 },
    ]);
    expect((await prometheus.query('up{job="kappa"}')).map((s) => s.value)).toEqual([1]);
    expect((await prometheus.query('kappa_topic_records{topic="orders"}')).map((s) => s.value)).toEqual([5]);
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual([
      'KappaConsumerLagGrowing',
      'KappaDeadLetterRate',
      'KappaDown',
      'KappaMaterializerLag',
      'KappaWatermarkStalled',
    ]);
    // Evaluated at least once without error (the expressions name metrics Kappa serves).
    for (let i = 0; i < 20 && loaded.some((r) => r.health !== 'ok'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      const again = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as typeof rules;
      loaded.splice(0, loaded.length, ...again.data.groups.flatMap((g) => g.rules));
    }
    expect(loaded.map((r) => r.health)).toEqual(Array(5).fill('ok'));
  });
});
