import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-helpers.ts';

// Each case here was seen when Kappa was tried as a hostile user would (issue 10).

const JSON_V2 = 'application/vnd.kafka.json.v2+json';

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('hostile HTTP input', () => {
  let s: TestServer;
  const log = captureLogger();
  beforeAll(async () => {
    s = await startTestServer({ logger: log.logger });
    await s.bus.createTopic('orders', { partitions: 3 });
  });
  afterAll(async () => s.close());

  const post = (url: string, payload: string | Buffer, type = JSON_V2) =>
    s.app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });

  it('answers a produce body nested 100,000 deep with 400, appending nothing', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const response = await post('/topics/orders', `{"records":[{"value":${deep}}]}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/deeper than 64 levels/);
    expect(await s.appended('orders')).toBe(0);
    // Nesting within the limit is fine, and brackets inside strings do not count.
    const ok = await post('/topics/orders', `{"records":[{"value":{"a":[[["${'['.repeat(500)}"]]]}}]}`);
    expect(ok.statusCode).toBe(200);
  });

  it('refuses invalid UTF-8 in a JSON body with 422 instead of storing U+FFFD', async () => {
    const body = Buffer.concat([
      Buffer.from('{"records":[{"value":"caf'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}]}'),
    ]);
    const before = await s.appended('orders');
    const response = await post('/topics/orders', body);
    expect(response.statusCode).toBe(422);
    expect(response.json().message).toMatch(/UTF-8/);
    expect(await s.appended('orders')).toBe(before);
  });

  it('says a __proto__ key is refused, not that the JSON is invalid', async () => {
    const response = await post('/topics/orders', '{"records":[{"value":{"__proto__":{"admin":true}}}]}');
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/__proto__/);
    expect(response.json().message).not.toMatch(/not valid JSON/);
    const broken = await post('/topics/orders', '{"records":[');
    expect(broken.statusCode).toBe(400);
    expect(broken.json().message).toMatch(/not valid JSON/);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'answers a topic config named %s with 400',
    async (name) => {
      const response = await post(
        '/v3/clusters/kappa/topics',
        JSON.stringify({ topic_name: `cfg-${name.replace(/_/g, 'u')}`, configs: [{ name, value: '1' }] }),
        'application/json',
      );
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toMatch(/Unknown or unsupported topic config/);
      expect(log.lines.filter((l) => l.msg === 'request failed')).toEqual([]);
    },
  );

  it('serves every route of a topic whose name has 101 to 249 characters', async () => {
    for (const length of [101, 180, 249]) {
      const name = 't'.repeat(length);
      const created = await post(
        '/v3/clusters/kappa/topics',
        JSON.stringify({ topic_name: name }),
        'application/json',
      );
      expect(created.statusCode).toBe(201);
      const produced = await post(`/topics/${name}`, JSON.stringify({ records: [{ value: 1 }] }));
      expect(produced.statusCode).toBe(200);
      const read = await s.app.inject({ method: 'GET', url: `/v1/topics/${name}/records` });
      expect(read.json().records).toHaveLength(1);
      const described = await s.app.inject({
        method: 'GET',
        url: `/v3/clusters/kappa/topics/${name}/partitions`,
      });
      expect(described.statusCode).toBe(200);
      const deleted = await s.app.inject({ method: 'DELETE', url: `/v3/clusters/kappa/topics/${name}` });
      expect(deleted.statusCode).toBe(204);
    }
    const tooLong = await post(
      '/v3/clusters/kappa/topics',
      JSON.stringify({ topic_name: 't'.repeat(250) }),
      'application/json',
    );
    expect(tooLong.statusCode).toBe(422);
  });

  it('refuses to create a topic named __evil, which could never be deleted', async () => {
    const response = await post(
      '/v3/clusters/kappa/topics',
      JSON.stringify({ topic_name: '__evil' }),
      'application/json',
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/reserved/);
    expect(await s.bus.listTopics({ includeInternal: true })).not.toContain('__evil');
  });

  it('logs every 5xx with its cause', async () => {
    const original = s.bus.createTopic;
    s.bus.createTopic = async () => {
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    };
    try {
      const response = await post(
        '/v3/clusters/kappa/topics',
        JSON.stringify({ topic_name: 'fails' }),
        'application/json',
      );
      expect(response.statusCode).toBe(500);
    } finally {
      s.bus.createTopic = original;
    }
    const logged = log.lines.find((l) => l.msg === 'request failed');
    expect(logged).toMatchObject({
      url: '/v3/clusters/kappa/topics',
      err: { message: 'EMFILE: too many open files' },
    });
  });
});

describe('slow and numerous clients', () => {
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    s = await startTestServer({ requestTimeoutMs: 1000, headersTimeoutMs: 500, maxConcurrentRequests: 2 });
    await s.bus.createTopic('quiet', { partitions: 1 });
    url = await s.server.listen(0, '127.0.0.1');
  });
  afterAll(async () => s.close());

  /** Sends `text` on a raw connection and resolves with whatever comes back once the server closes it. */
  const stall = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const { port } = new URL(url);
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(text));
      let answer = '';
      socket.on('data', (d) => {
        answer += d;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
    });

  it('closes a request whose body stalls halfway', async () => {
    const answer = await stall(
      `POST /topics/quiet HTTP/1.1\r\nHost: x\r\nContent-Type: ${JSON_V2}\r\nContent-Length: 100\r\n\r\n{"records":`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(await s.appended('quiet')).toBe(0);
  });

  it('closes a request whose headers stall', async () => {
    const answer = await stall('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 429 with Retry-After beyond the concurrent requests it takes, and serves again after', async () => {
    const abort = new AbortController();
    const waiting = [1, 2].map(() =>
      fetch(`${url}/v1/topics/quiet/records?timeout_ms=30000`, { signal: abort.signal }).catch(() => null),
    );
    // The two long polls hold both slots once the server has them; health checks are never turned away.
    let refused: Response | undefined;
    while (!refused) {
      const r = await fetch(`${url}/v1/topics/quiet`);
      if (r.status === 429) refused = r;
      else await r.arrayBuffer();
    }
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error_code: number }).error_code).toBe(42901);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    abort.abort();
    await Promise.all(waiting);
    let served = 0;
    while (served === 0) {
      const r = await fetch(`${url}/v1/topics/quiet`);
      if (r.status === 200) served++;
      await r.arrayBuffer();
    }
    expect(served).toBe(1);
  });
});
