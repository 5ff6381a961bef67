import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, KeyRing, type StoredApiKey } from '../../src/core/index.ts';
import { ROUTE_ACCESS } from '../../src/http/auth/index.ts';
import { createServer } from '../../src/http/index.ts';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { SchemaRegistry } from '../../src/registry/index.ts';
import { avroRecord, type RegistryServer, startRegistryServer } from '../registry/registry-helpers.ts';
import { tempDir, useTempDir } from '../support/temp-dir.ts';

const SCOPES = {
  admin: ['admin'],
  producer: ['produce:orders*'],
  consumer: ['consume:orders*'],
  reader: ['registry:read'],
  writer: ['registry:write'],
  everything: ['produce:*', 'consume:*', 'registry:write'],
  monitor: ['monitor'],
  other: ['produce:other-*', 'consume:other-*'],
} as const;
type Who = keyof typeof SCOPES;

function makeKeys(): { stored: StoredApiKey[]; secret: Record<Who, string> } {
  const secret = {} as Record<Who, string>;
  const stored = Object.entries(SCOPES).map(([name, scopes]) => {
    secret[name as Who] = generateApiKey();
    return { name, hash: hashApiKey(secret[name as Who]), scopes: [...scopes] };
  });
  return { stored, secret };
}

const KAFKA_JSON = 'application/vnd.kafka.json.v2+json';
const SR = 'application/vnd.schemaregistry.v1+json';
const schema = avroRecord('Order', [{ name: 'id', type: 'string' }]);

/**
 * One request per route: who may make it and who may not. `denied` answers 403, or 404 for consumer
 * instances, which belong to the key that made them. The test below checks every registered route has
 * a row here, so a new route cannot slip in unchecked.
 */
interface Row {
  route: string;
  path: string;
  body?: unknown;
  type?: string;
  allowed: Who;
  denied: Who;
  deniedStatus?: number;
}
const ROWS: Row[] = [
  { route: 'GET /v3/clusters', path: '/v3/clusters', allowed: 'other', denied: 'other', deniedStatus: 200 },
  {
    route: 'GET /v3/clusters/:cluster',
    path: '/v3/clusters/kappa',
    allowed: 'consumer',
    denied: 'consumer',
    deniedStatus: 200,
  },
  {
    route: 'GET /v3/clusters/:cluster/topics',
    path: '/v3/clusters/kappa/topics',
    allowed: 'other',
    denied: 'other',
    deniedStatus: 200,
  },
  {
    route: 'POST /v3/clusters/:cluster/topics',
    path: '/v3/clusters/kappa/topics',
    body: { topic_name: 'orders-made', partitions_count: 1 },
    type: 'application/json',
    allowed: 'admin',
    denied: 'everything',
  },
  {
    route: 'GET /v3/clusters/:cluster/topics/:topic',
    path: '/v3/clusters/kappa/topics/orders',
    allowed: 'producer',
    denied: 'other',
  },
  {
    route: 'GET /v3/clusters/:cluster/topics/:topic/partitions',
    path: '/v3/clusters/kappa/topics/orders/partitions',
    allowed: 'consumer',
    denied: 'other',
  },
  {
    route: 'POST /v3/clusters/:cluster/topics/:topic/records',
    path: '/v3/clusters/kappa/topics/orders/records',
    body: { value: { type: 'JSON', data: { id: 'o1' } } },
    type: 'application/json',
    allowed: 'producer',
    denied: 'consumer',
  },
  { route: 'GET /v1/cdc', path: '/v1/cdc', allowed: 'admin', denied: 'everything' },
  { route: 'GET /metrics', path: '/metrics', allowed: 'monitor', denied: 'everything' },
  { route: 'GET /v1/status', path: '/v1/status', allowed: 'monitor', denied: 'everything' },
  {
    route: 'DELETE /v3/clusters/:cluster/topics/:topic',
    path: '/v3/clusters/kappa/topics/orders-doomed',
    allowed: 'admin',
    denied: 'everything',
  },
  {
    route: 'POST /topics/:topic',
    path: '/topics/orders',
    body: { records: [{ value: 1 }] },
    type: KAFKA_JSON,
    allowed: 'producer',
    denied: 'consumer',
  },
  {
    route: 'POST /topics/:topic/partitions/:partition',
    path: '/topics/orders/partitions/1',
    body: { records: [{ value: 1 }] },
    type: KAFKA_JSON,
    allowed: 'producer',
    denied: 'other',
  },
  { route: 'GET /v1/topics/:topic', path: '/v1/topics/orders', allowed: 'consumer', denied: 'producer' },
  {
    route: 'GET /v1/topics/:topic/dead-letters',
    path: '/v1/topics/orders/dead-letters',
    allowed: 'consumer',
    denied: 'producer',
  },
  {
    route: 'POST /v1/topics/:topic/dead-letters/replay',
    path: '/v1/topics/orders/dead-letters/replay',
    body: { offsets: [0] },
    allowed: 'consumer',
    denied: 'producer',
  },
  {
    route: 'GET /v1/topics/:topic/records',
    path: '/v1/topics/orders/records',
    allowed: 'consumer',
    denied: 'other',
  },
  {
    route: 'POST /consumers/:group',
    path: '/consumers/g2',
    body: { format: 'json' },
    type: KAFKA_JSON,
    allowed: 'consumer',
    denied: 'consumer',
    deniedStatus: 200,
  },
  {
    route: 'POST /consumers/:group/instances/:instance/subscription',
    path: '/consumers/g1/instances/mine/subscription',
    body: { topics: ['orders'] },
    type: KAFKA_JSON,
    allowed: 'consumer',
    denied: 'other',
  },
  {
    route: 'GET /consumers/:group/instances/:instance/records',
    path: '/consumers/g1/instances/mine/records?timeout=0',
    allowed: 'consumer',
    denied: 'other',
    deniedStatus: 404,
  },
  {
    route: 'POST /consumers/:group/instances/:instance/offsets',
    path: '/consumers/g1/instances/mine/offsets',
    body: { offsets: [{ topic: 'orders', partition: 0, offset: 0 }] },
    type: KAFKA_JSON,
    allowed: 'consumer',
    denied: 'other',
  },
  {
    route: 'DELETE /consumers/:group/instances/:instance',
    path: '/consumers/g1/instances/mine',
    allowed: 'consumer',
    denied: 'admin',
    deniedStatus: 404,
  },
  { route: 'GET /schemas/types', path: '/schemas/types', allowed: 'reader', denied: 'producer' },
  { route: 'GET /schemas/ids/:id', path: '/schemas/ids/1', allowed: 'reader', denied: 'producer' },
  {
    route: 'GET /schemas/ids/:id/schema',
    path: '/schemas/ids/1/schema',
    allowed: 'writer',
    denied: 'consumer',
  },
  {
    route: 'GET /schemas/ids/:id/subjects',
    path: '/schemas/ids/1/subjects',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'GET /schemas/ids/:id/versions',
    path: '/schemas/ids/1/versions',
    allowed: 'reader',
    denied: 'other',
  },
  { route: 'GET /subjects', path: '/subjects', allowed: 'reader', denied: 'producer' },
  {
    route: 'POST /subjects/:subject',
    path: '/subjects/orders-value',
    body: { schema },
    type: SR,
    allowed: 'reader',
    denied: 'producer',
  },
  { route: 'DELETE /subjects/:subject', path: '/subjects/gone-value', allowed: 'writer', denied: 'reader' },
  {
    route: 'GET /subjects/:subject/versions',
    path: '/subjects/orders-value/versions',
    allowed: 'reader',
    denied: 'consumer',
  },
  {
    route: 'POST /subjects/:subject/versions',
    path: '/subjects/orders-value/versions',
    body: { schema },
    type: SR,
    allowed: 'writer',
    denied: 'reader',
  },
  {
    route: 'GET /subjects/:subject/versions/:version',
    path: '/subjects/orders-value/versions/1',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'GET /subjects/:subject/versions/:version/schema',
    path: '/subjects/orders-value/versions/1/schema',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'GET /subjects/:subject/versions/:version/referencedby',
    path: '/subjects/orders-value/versions/1/referencedby',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'DELETE /subjects/:subject/versions/:version',
    path: '/subjects/gone2-value/versions/1',
    allowed: 'writer',
    denied: 'reader',
  },
  {
    route: 'POST /compatibility/subjects/:subject/versions',
    path: '/compatibility/subjects/orders-value/versions',
    body: { schema },
    type: SR,
    allowed: 'reader',
    denied: 'producer',
  },
  {
    route: 'POST /compatibility/subjects/:subject/versions/:version',
    path: '/compatibility/subjects/orders-value/versions/latest',
    body: { schema },
    type: SR,
    allowed: 'reader',
    denied: 'producer',
  },
  { route: 'GET /config', path: '/config', allowed: 'reader', denied: 'producer' },
  {
    route: 'PUT /config',
    path: '/config',
    body: { compatibility: 'BACKWARD' },
    type: SR,
    allowed: 'writer',
    denied: 'reader',
  },
  { route: 'DELETE /config', path: '/config', allowed: 'writer', denied: 'reader' },
  {
    route: 'GET /config/:subject',
    path: '/config/orders-value?defaultToGlobal=true',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'PUT /config/:subject',
    path: '/config/orders-value',
    body: { compatibility: 'FULL' },
    type: SR,
    allowed: 'writer',
    denied: 'reader',
  },
  { route: 'DELETE /config/:subject', path: '/config/orders-value', allowed: 'writer', denied: 'reader' },
  { route: 'GET /mode', path: '/mode', allowed: 'reader', denied: 'producer' },
  {
    route: 'PUT /mode',
    path: '/mode',
    body: { mode: 'READWRITE' },
    type: SR,
    allowed: 'admin',
    denied: 'writer',
  },
  { route: 'DELETE /mode', path: '/mode', allowed: 'admin', denied: 'writer' },
  {
    route: 'GET /mode/:subject',
    path: '/mode/orders-value?defaultToGlobal=true',
    allowed: 'reader',
    denied: 'other',
  },
  {
    route: 'PUT /mode/:subject',
    path: '/mode/orders-value',
    body: { mode: 'READWRITE' },
    type: SR,
    allowed: 'admin',
    denied: 'writer',
  },
  { route: 'DELETE /mode/:subject', path: '/mode/orders-value', allowed: 'admin', denied: 'writer' },
];
const OPEN = ['GET /healthz', 'GET /readyz', 'GET /v1/openapi.json', 'GET /', 'GET /assets/*'];
/** Streams: checked on their first bytes (the generic rows read whole answers). */
const STREAMS = ['GET /v1/status/live'];

describe('API keys on every route', () => {
  let s: RegistryServer;
  const { stored, secret } = makeKeys();
  beforeAll(async () => {
    // A built dashboard: a page and one asset.
    const dashboard = await tempDir('kappa-auth-dashboard-');
    await mkdir(path.join(dashboard.dir, 'assets'));
    await writeFile(path.join(dashboard.dir, 'index.html'), '<!doctype html><title>Kappa</title>');
    await writeFile(path.join(dashboard.dir, 'assets', 'app.js'), 'console.log(1);');
    s = await startRegistryServer({
      server: {
        keys: stored,
        metrics: {
          text: async () => 'kappa_up 1\n',
          values: async () => [],
          contentType: 'text/plain; version=0.0.4',
        },
        status: async () => ({ pipelines: [] }),
        dashboard: dashboard.dir,
      },
    });
    const close = s.close;
    s.close = async () => {
      await close();
      await dashboard.remove();
    };
    await s.bus.createTopic('orders', { partitions: 3 });
    await s.bus.createTopic('orders-doomed', { partitions: 1 });
    for (const subject of ['orders-value', 'gone-value', 'gone2-value'])
      expect(
        (
          await request(
            subject === 'orders-value' ? 'writer' : 'admin',
            'POST',
            `/subjects/${subject}/versions`,
            { schema },
            SR,
          )
        ).status,
      ).toBe(200);
    const made = await request(
      'consumer',
      'POST',
      '/consumers/g1',
      { name: 'mine', format: 'json' },
      KAFKA_JSON,
    );
    expect(made.status).toBe(200);
  });
  afterAll(async () => s.close());

  async function request(
    who: Who | null | string,
    method: string,
    url: string,
    body?: unknown,
    type?: string,
  ) {
    const key = who === null ? undefined : (secret[who as Who] ?? who);
    const response = await fetch(`${s.url}${url}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': type ?? 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, text, headers: response.headers };
  }

  it('has a row for every route the server registers, and an entry in the access table for each', () => {
    const registered = s.server.routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
    const covered = new Set([...ROWS.map((r) => r.route), ...OPEN, ...STREAMS]);
    expect(registered.filter((r) => !covered.has(r))).toEqual([]);
    expect([...covered].filter((r) => !registered.includes(r))).toEqual([]);
    expect(ROUTE_ACCESS.length).toBeGreaterThan(10);
  });

  it.each(OPEN)('%s needs no key', async (route) => {
    const url = route.split(' ')[1]!.replace('*', 'app.js');
    expect((await request(null, 'GET', url)).status).toBe(200);
  });

  it('GET /v1/status/live: no key 401, a key without monitor 403, monitor streams', async () => {
    expect((await request(null, 'GET', '/v1/status/live')).status).toBe(401);
    expect((await request('everything', 'GET', '/v1/status/live')).status).toBe(403);
    const abort = new AbortController();
    const live = await fetch(`${s.url}/v1/status/live`, {
      headers: { authorization: `Bearer ${secret.monitor}` },
      signal: abort.signal,
    });
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = live.body!.getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('data: {"status":{"pipelines":[]},"metrics":[]}');
    abort.abort();
  });

  // Order matters for the rows that change things (delete a subject, the instance); each runs its
  // denied and anonymous requests before the allowed one.
  it.each(ROWS)('$route: no key 401, $denied refused, $allowed served', async (row) => {
    const method = row.route.split(' ')[0]!;
    const anonymous = await request(null, method, row.path, row.body, row.type);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text)).toMatchObject({ error_code: 40101 });
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Bearer/);
    const wrongKey = await request(generateApiKey(), method, row.path, row.body, row.type);
    expect(wrongKey.status).toBe(401);
    if (row.denied !== row.allowed) {
      const denied = await request(row.denied, method, row.path, row.body, row.type);
      expect(denied.status, denied.text).toBe(row.deniedStatus ?? 403);
      if ((row.deniedStatus ?? 403) === 403)
        expect(JSON.parse(denied.text)).toMatchObject({ error_code: 40301 });
    }
    const allowed = await request(row.allowed, method, row.path, row.body, row.type);
    expect(allowed.status, allowed.text).toBeGreaterThanOrEqual(200);
    expect(allowed.status, allowed.text).toBeLessThan(400);
  });

  it('never lets a topic pattern reach Kappa’s own topics; admin reads them', async () => {
    for (const topic of ['_schemas', '__consumer_offsets']) {
      expect((await request('everything', 'GET', `/v1/topics/${topic}/records`)).status).toBe(403);
      expect((await request('admin', 'GET', `/v1/topics/${topic}/records`)).status).toBe(200);
    }
    const listed = JSON.parse((await request('everything', 'GET', '/v3/clusters/kappa/topics')).text);
    expect(listed.data.map((t: { topic_name: string }) => t.topic_name)).not.toContain('_schemas');
    const mine = JSON.parse((await request('producer', 'GET', '/v3/clusters/kappa/topics')).text);
    expect(mine.data.map((t: { topic_name: string }) => t.topic_name).sort()).toEqual([
      'orders',
      'orders-made',
    ]);
  });

  it('takes the key as the password of Basic auth, as Confluent’s clients send it', async () => {
    const basic = Buffer.from(`anyone:${secret.reader}`).toString('base64');
    const response = await fetch(`${s.url}/subjects`, { headers: { authorization: `Basic ${basic}` } });
    expect(response.status).toBe(200);
    const wrong = Buffer.from(`reader:${secret.reader}x`).toString('base64');
    expect((await fetch(`${s.url}/subjects`, { headers: { authorization: `Basic ${wrong}` } })).status).toBe(
      401,
    );
  });
});

describe('keys that change, and where the server may listen', () => {
  const temp = useTempDir('each');

  it('refuses a revoked key at once, and stays closed when every key is revoked', async () => {
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    const a = generateApiKey();
    const b = generateApiKey();
    const ring = new KeyRing([
      { name: 'a', hash: hashApiKey(a), scopes: ['admin'] },
      { name: 'b', hash: hashApiKey(b), scopes: ['admin'] },
    ]);
    const server = await createServer({ bus, keys: ring });
    const get = (key?: string) =>
      server.app.inject({ url: '/v3/clusters', headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect((await get(a)).statusCode).toBe(200);
    ring.replace([{ name: 'b', hash: hashApiKey(b), scopes: ['admin'] }]);
    expect((await get(a)).statusCode).toBe(401);
    expect((await get(b)).statusCode).toBe(200);
    ring.replace([]);
    expect((await get(b)).statusCode).toBe(401);
    expect((await get()).statusCode).toBe(401);
    await server.close();
    await bus.close();
  });

  it('listens beyond loopback only with keys, saying how to make one', async () => {
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    const open = await createServer({ bus });
    await expect(open.listen(0, '0.0.0.0')).rejects.toThrow(/without API keys.*kappa keys create/);
    await expect(open.listen(0, '::')).rejects.toThrow(/without API keys/);
    await open.close();
    const key = generateApiKey();
    const guarded = await createServer({
      bus,
      keys: [{ name: 'ops', hash: hashApiKey(key), scopes: ['admin'] }],
    });
    const url = await guarded.listen(0, '0.0.0.0');
    const port = new URL(url).port;
    expect((await fetch(`http://127.0.0.1:${port}/v3/clusters`)).status).toBe(401);
    await guarded.close();
    await bus.close();
  });

  it('serves HTTPS with a given certificate', async () => {
    const { dir, remove } = await tempDir('kappa-tls-');
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const { readFile } = await import('node:fs/promises');
    const bus = await openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });
    const registry = await SchemaRegistry.open({ bus });
    const pem = { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
    const server = await createServer({ bus, registry, tls: pem });
    const url = await server.listen(0, '127.0.0.1');
    expect(url).toMatch(/^https:/);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${url}/subjects`, { ca: pem.cert }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toEqual([]);
    await server.close();
    await registry.close();
    await bus.close();
    await remove();
  });
});
