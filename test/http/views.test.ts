import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, ManualClock } from '../../src/core/index.ts';
import { createServer, type KappaServer } from '../../src/http/index.ts';
import { openApiDocument } from '../../src/http/routes/openapi.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { readStatus, type Status } from '../../src/ops/index.ts';
import { DuckDbViewStore, MemoryViewCache, Views } from '../../src/serve/index.ts';
import { count, PipelineRunner, pipeline, sum, tumbling } from '../../src/stream/index.ts';
import { tempDir } from '../support/temp-dir.ts';

interface Payment {
  merchant: string;
  amount: number;
  ts: number;
}

const revenue = pipeline('revenue')
  .source<Payment>('payments', { eventTime: (p) => p.ts })
  .keyBy((p) => p.merchant)
  .window(tumbling(1000))
  .aggregate({ n: count(), total: sum((p) => p.amount) })
  .toView('revenue');

const SCOPES = {
  admin: ['admin'],
  viewer: ['query:revenue'],
  sql: ['query:*'],
  other: ['query:other'],
} as const;
type Who = keyof typeof SCOPES;

describe('query API', () => {
  let bus: EmbeddedBus;
  let server: KappaServer;
  let views: Views;
  let runner: PipelineRunner;
  let url: string;
  let remove: () => Promise<void>;
  const secret = Object.fromEntries(Object.keys(SCOPES).map((w) => [w, generateApiKey()])) as Record<
    Who,
    string
  >;
  const keys = Object.entries(SCOPES).map(([name, scopes]) => ({
    name,
    hash: hashApiKey(secret[name as Who]),
    scopes: [...scopes],
  }));

  const send = (payments: Payment[]) =>
    bus.producer().send(payments.map((p) => ({ topic: 'payments', value: Buffer.from(JSON.stringify(p)) })));

  async function get(who: Who | null, route: string, init: RequestInit = {}) {
    const response = await fetch(`${url}${route}`, {
      ...init,
      headers: {
        ...(who ? { authorization: `Bearer ${secret[who]}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
    const text = await response.text();
    return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  }
  const query = (who: Who, sql: string, extra: Record<string, unknown> = {}) =>
    get(who, '/v1/query', { method: 'POST', body: JSON.stringify({ sql, ...extra }) });

  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    const temp = await tempDir('kappa-query-api-');
    remove = temp.remove;
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    await bus.createTopic('payments', { partitions: 1 });
    runner = new PipelineRunner({ bus, pipeline: revenue, clock: new ManualClock(0) });
    await runner.start();
    const store = await DuckDbViewStore.open({ file: path.join(temp.dir, 'views.duckdb') });
    views = new Views({
      bus,
      store,
      cache: new MemoryViewCache(),
      deadLetterTopic: 'dead-letters',
      materialize: [revenue],
    });
    await views.start();
    server = await createServer({
      bus,
      views,
      keys,
      queryTimeoutMs: 500,
      maxLiveStreams: 1000,
      status: () =>
        readStatus({
          bus,
          busDescription: 'embedded log in test',
          pipelines: [runner],
          views,
          deadLetterTopic: 'dead-letters',
        }),
    });
    url = await server.listen(0, '127.0.0.1');
    // Windows [0, 1000) and [1000, 2000) close; [2000, 3000) stays open.
    await send([
      { merchant: 'm1', amount: 10, ts: 100 },
      { merchant: 'm2', amount: 7, ts: 200 },
      { merchant: 'm1', amount: 5, ts: 900 },
      { merchant: 'm1', amount: 1, ts: 1500 },
      { merchant: 'm3', amount: 50, ts: 1600 },
      { merchant: 'm2', amount: 2, ts: 2500 },
    ]);
    await until(async () => (await store.rowCount('revenue__v1').catch(() => 0)) === 4, 'the view');
  });
  afterAll(async () => {
    await server?.close();
    await views?.stop();
    await runner?.stop();
    await views?.store.close();
    await bus?.close();
    await remove?.();
  });

  it('lists views with their columns and row counts, to keys that may query them', async () => {
    const { status, body } = await get('viewer', '/v1/views');
    expect(status).toBe(200);
    expect(body.views).toEqual([
      {
        name: 'revenue',
        topic: 'kappa-view-revenue',
        key: { name: 'key', type: 'string' },
        columns: [
          { name: 'window_start', type: 'timestamp' },
          { name: 'window_end', type: 'timestamp' },
          { name: 'kind', type: 'string' },
          { name: 'n', type: 'integer' },
          { name: 'total', type: 'number' },
        ],
        retentionMs: null,
        rows: 4,
      },
    ]);
    expect((await get('other', '/v1/views')).body.views).toEqual([]);
  });

  it("answers a key's latest window, and its windows in a range", async () => {
    const latest = await get('viewer', '/v1/views/revenue/keys/m1');
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({
      key: 'm1',
      window: { startMs: 1000, endMs: 2000, start: '1970-01-01T00:00:01.000Z' },
      kind: 'final',
      values: { n: 1, total: 1 },
    });
    // Again: now from the cache, the same answer.
    expect((await get('viewer', '/v1/views/revenue/keys/m1')).body).toEqual(latest.body);
    expect(views.cacheStats.hits).toBeGreaterThan(0);
    const range = await get('viewer', '/v1/views/revenue/keys/m1?from=0&to=1970-01-01T00:00:01Z');
    expect(range.body.rows.map((r: { values: unknown }) => r.values)).toEqual([{ n: 2, total: 15 }]);
    expect((await get('viewer', '/v1/views/revenue/keys/nobody')).status).toBe(404);
  });

  it('answers the top keys of the latest window and of a window given', async () => {
    const top = await get('viewer', '/v1/views/revenue/top?by=total&n=5');
    expect(top.body.rows.map((r: { key: string }) => r.key)).toEqual(['m3', 'm1']);
    const first = await get('viewer', '/v1/views/revenue/top?by=n&window=0');
    expect(first.body.rows.map((r: { key: string }) => r.key)).toEqual(['m1', 'm2']);
  });

  it('runs read-only SQL with typed columns', async () => {
    const { status, body } = await query(
      'sql',
      'SELECT key, sum(total) AS total FROM revenue GROUP BY key ORDER BY key',
    );
    expect(status).toBe(200);
    expect(body.rows).toEqual([
      ['m1', 16],
      ['m2', 7],
      ['m3', 50],
    ]);
    const limited = await query('sql', 'SELECT * FROM revenue', { limit: 2 });
    expect(limited.body.rows).toHaveLength(2);
    expect(limited.body.truncated).toBe(true);
  });

  it('refuses hostile and malformed requests with a clear 4xx, and keeps serving', async () => {
    const cases: Array<[string, Promise<{ status: number; body: { error_code?: number } }>, number]> = [
      ['unknown view', get('admin', '/v1/views/nope/keys/a'), 404],
      ['bad time', get('viewer', '/v1/views/revenue/keys/m1?from=yesterday'), 422],
      ['to before from', get('viewer', '/v1/views/revenue/keys/m1?from=5000&to=10'), 422],
      ['unknown column', get('viewer', '/v1/views/revenue/top?by=nope'), 422],
      ['n too large', get('viewer', '/v1/views/revenue/top?n=100000'), 422],
      ['no sql', get('sql', '/v1/query', { method: 'POST', body: '{}' }), 422],
      ['huge sql', query('sql', `SELECT ${'1,'.repeat(60_000)}1`), 413],
      ['a write', query('sql', "DELETE FROM revenue WHERE key = 'm1'"), 403],
      ['DDL', query('sql', 'DROP TABLE revenue'), 403],
      ['a file', query('sql', "SELECT * FROM read_csv('/etc/passwd')"), 403],
      ['a setting', query('sql', 'SET threads = 1'), 403],
      ['attach', query('sql', "ATTACH '/tmp/evil.db'"), 403],
      ['install', query('sql', 'INSTALL httpfs'), 403],
      ['two statements', query('sql', 'SELECT 1; DROP TABLE revenue'), 403],
      ['bad sql', query('sql', 'SELEKT 1'), 400],
      [
        'slow',
        query('sql', 'SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3'),
        408,
      ],
    ];
    for (const [what, response, status] of cases) expect((await response).status, what).toBe(status);
    expect((await query('sql', 'SELECT count(*) AS n FROM revenue')).body.rows).toEqual([[4]]);
  });

  it('checks keys and scopes on every view route', async () => {
    const routes: Array<[string, RequestInit?]> = [
      ['/v1/views/revenue/keys/m1'],
      ['/v1/views/revenue/top'],
      ['/v1/query', { method: 'POST', body: JSON.stringify({ sql: 'SELECT 1' }) }],
    ];
    for (const [route, init] of routes) {
      expect((await get(null, route, init)).status, route).toBe(401);
      expect((await get('other', route, init)).status, route).toBe(403);
      expect((await get(route === '/v1/query' ? 'sql' : 'viewer', route, init)).status, route).toBe(200);
    }
    // A key for one view may not run SQL, which may read any view.
    expect((await query('viewer', 'SELECT 1')).status).toBe(403);
    expect((await get(null, '/v1/views')).status).toBe(401);
    const live = await fetch(`${url}/v1/views/revenue/live`, {
      headers: { authorization: `Bearer ${secret.other}` },
    });
    expect(live.status).toBe(403);
  });

  it('streams every update of a view live, optionally of one key', async () => {
    const all = new AbortController();
    const one = new AbortController();
    const events = (ctrl: AbortController, route: string) =>
      fetch(`${url}${route}`, { headers: { authorization: `Bearer ${secret.viewer}` }, signal: ctrl.signal });
    const [a, b] = await Promise.all([
      events(all, '/v1/views/revenue/live'),
      events(one, '/v1/views/revenue/live?key=m9'),
    ]);
    expect(a.headers.get('content-type')).toMatch(/text\/event-stream/);
    const readUntil = async (response: Response, needle: string) => {
      const reader = response.body!.getReader();
      let text = '';
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return text;
    };
    // A payment that closes [2000, 3000): m2's window row appears, and m9's (a new key) opens.
    await send([
      { merchant: 'm9', amount: 3, ts: 3100 },
      { merchant: 'm9', amount: 3, ts: 4200 },
    ]);
    const seen = await readUntil(a, '"m9"');
    expect(seen).toContain('event: upsert');
    expect(seen).toContain('"key":"m2"');
    const mine = await readUntil(b, '"m9"');
    expect(mine).not.toContain('"m2"');
    all.abort();
    one.abort();
    await until(async () => views.subscribers === 0, 'the subscriptions to go');
  });

  it('takes 500 live clients that connect and drop abruptly, and leaks nothing', async () => {
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        server.app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    const before = await connections();
    const clients = Array.from({ length: 500 }, () => new AbortController());
    const responses = await Promise.all(
      clients.map((c) =>
        fetch(`${url}/v1/views/revenue/live`, {
          headers: { authorization: `Bearer ${secret.viewer}` },
          signal: c.signal,
        }),
      ),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(views.subscribers).toBe(500);
    for (const c of clients) c.abort();
    await until(
      async () => views.subscribers === 0 && (await connections()) <= before,
      'every stream to close',
    );
    // Still serving.
    expect((await get('viewer', '/v1/views/revenue/keys/m1')).status).toBe(200);
  });

  it('describes exactly the /v1 routes the server has in its OpenAPI document', async () => {
    const served = await get(null, '/v1/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body).toEqual(openApiDocument());
    const documented = Object.entries(served.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const registered = server.routes
      .filter((r) => r.method !== 'HEAD' && (r.url.startsWith('/v1/') || r.url === '/metrics'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    // This server has no metrics: /metrics is documented, as kappa up serves it.
    expect(documented.sort()).toEqual([...registered, 'GET /metrics'].sort());
  });

  it('answers GET /v1/status with the pipeline, its groups’ lag and the view', async () => {
    const { status, body } = await get('admin', '/v1/status');
    expect(status).toBe(200);
    const answer = body as Status;
    expect(answer.bus).toBe('embedded log in test');
    expect(answer.pipelines).toEqual([
      expect.objectContaining({
        name: 'revenue',
        source: 'payments',
        state: 'running',
        steps: revenue.steps.map((s) => ({ name: s.name, kind: s.kind })),
      }),
    ]);
    expect(answer.pipelines[0]!.processed).toBeGreaterThan(0);
    const view = answer.views.find((v) => v.name === 'revenue')!;
    expect(view).toMatchObject({ pipeline: 'revenue', version: 1, lag: 0 });
    expect(view.rows).toBeGreaterThan(0);
    expect(answer.topics.find((t) => t.name === 'payments')).toMatchObject({
      partitions: 1,
      internal: false,
    });
    const group = answer.groups.find((g) => g.group === 'kappa-pipeline-revenue')!;
    expect(group.partitions.map((p) => p.topic)).toEqual(['payments']);
    expect(group.lag).toBe(0);
    // A key without the monitor scope sees none of it.
    expect((await get('viewer', '/v1/status')).status).toBe(403);
  });
});
