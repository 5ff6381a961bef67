import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, Producer } from '../../src/log/index.ts';
import { JSON_V2, startTestServer, type TestServer } from './http-helpers.ts';

describe('idempotent HTTP produce', () => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const produce = (server: TestServer, body: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({
      method: 'POST',
      url: '/topics/events',
      headers: { 'content-type': JSON_V2, ...headers },
      payload: JSON.stringify(body),
    });

  it('appends a retried request (same producer id and sequence) once, and answers it with the first offsets', async () => {
    s = await startTestServer();
    await s.bus.createTopic('events', { partitions: 2 });
    const as = (sequence: number) => ({ 'kappa-producer-id': 'p-1', 'kappa-sequence': String(sequence) });
    const body = {
      records: [
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ],
    };
    const first = await produce(s, body, as(0));
    const retry = await produce(s, body, as(0));
    expect(first.statusCode).toBe(200);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().duplicate).toBe(true);
    expect(retry.json().offsets).toEqual(first.json().offsets);
    expect(await s.appended('events')).toBe(2);
    expect((await produce(s, body, as(1))).json().duplicate).toBeUndefined();
    expect(await s.appended('events')).toBe(4);
    const older = await produce(s, body, as(0));
    expect([older.statusCode, older.json().error_code]).toEqual([409, 40901]);
    expect(await s.appended('events')).toBe(4);
  });

  it('knows a producer’s last request after a restart, from the bus', async () => {
    s = await startTestServer();
    await s.bus.createTopic('events', { partitions: 1 });
    const headers = { 'kappa-producer-id': 'p-2', 'kappa-sequence': '7' };
    await produce(s, { records: [{ value: 'x' }] }, headers);
    // A second server on the same bus: what a restarted (or another) Kappa process sees.
    const { createServer } = await import('../../src/http/index.ts');
    const other = await createServer({ bus: s.bus });
    try {
      const retry = await other.app.inject({
        method: 'POST',
        url: '/topics/events',
        headers: { 'content-type': JSON_V2, ...headers },
        payload: JSON.stringify({ records: [{ value: 'x' }] }),
      });
      expect(retry.json()).toMatchObject({ duplicate: true, offsets: [{ partition: null, offset: null }] });
      expect(await s.appended('events')).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('refuses bad producer headers, naming them', async () => {
    s = await startTestServer();
    await s.bus.createTopic('events', { partitions: 1 });
    const bad = await produce(
      s,
      { records: [{ value: 1 }] },
      { 'kappa-producer-id': 'p', 'kappa-sequence': '-1' },
    );
    expect([bad.statusCode, bad.json().message]).toEqual([422, expect.stringContaining('Kappa-Sequence')]);
    const noId = await produce(s, { records: [{ value: 1 }] }, { 'kappa-sequence': '1' });
    expect([noId.statusCode, noId.json().message]).toEqual([
      422,
      expect.stringContaining('Kappa-Producer-Id'),
    ]);
    expect(await s.appended('events')).toBe(0);
  });

  it('answers 429 with Retry-After while the log is behind, rather than holding every request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    s = await startTestServer({ maxPendingProduceBytes: 100 });
    await s.bus.createTopic('events', { partitions: 1 });
    // The real log, with its appends held until the gate opens: a log that cannot keep up.
    let held!: () => void;
    const sending = new Promise<void>((r) => {
      held = r;
    });
    const slow = slowBus(s.bus, gate, () => held());
    const { createServer } = await import('../../src/http/index.ts');
    const server = await createServer({ bus: slow, maxPendingProduceBytes: 100 });
    try {
      const value = 'x'.repeat(60);
      const inject = () =>
        server.app.inject({
          method: 'POST',
          url: '/topics/events',
          headers: { 'content-type': JSON_V2 },
          payload: JSON.stringify({ records: [{ value }] }),
        });
      const first = inject();
      await sending;
      const refused = await inject();
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      release();
      expect((await first).statusCode).toBe(200);
      expect((await inject()).statusCode).toBe(200);
      expect(await s.appended('events')).toBe(2);
    } finally {
      release();
      await server.close();
    }
  });
});

/** The bus, with producer sends waiting for `gate` (`onSend` says one is waiting). */
function slowBus(bus: Bus, gate: Promise<void>, onSend: () => void): Bus {
  return new Proxy(bus, {
    get(target, name) {
      if (name !== 'producer') return bound(target, name);
      return (...args: Parameters<Bus['producer']>): Producer => {
        const producer = target.producer(...args);
        return new Proxy(producer, {
          get(p, n) {
            if (n !== 'send') return bound(p, n);
            return async (records: Parameters<Producer['send']>[0]) => {
              onSend();
              await gate;
              return p.send(records);
            };
          },
        });
      };
    },
  });
}

/** A member of `target`, methods bound to it (its private fields are not the proxy's). */
function bound(target: object, name: string | symbol): unknown {
  const value = Reflect.get(target, name);
  return typeof value === 'function' ? value.bind(target) : value;
}
