import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryViewCache, RedisViewCache, type StoredRow } from '../../src/serve/index.ts';
import { type RedisServer, redisAvailable, startRedis } from '../support/redis.ts';
import { viewCacheContract } from './view-cache-contract.ts';

viewCacheContract('memory', { open: async () => new MemoryViewCache() });

describe('memory view cache', () => {
  it('stays under its byte budget, dropping the least recently used first', async () => {
    const cache = new MemoryViewCache({ maxBytes: 20_000 });
    const row = (key: number): StoredRow => ({
      key,
      windowStart: 0,
      windowEnd: 1,
      kind: 'final',
      values: { n: key },
    });
    await cache.fill('v', 0, row(0), 0);
    for (let k = 1; k < 1000; k++) {
      await cache.fill('v', k, row(k), 0);
      await cache.get('v', 0); // key 0 is used all the time
    }
    expect(cache.bytes).toBeLessThanOrEqual(20_000);
    expect(await cache.get('v', 0)).toEqual(row(0));
    expect(await cache.get('v', 1)).toBeUndefined();
    expect(await cache.get('v', 999)).toEqual(row(999));
  });
});

describe.runIf(redisAvailable())('Redis view cache', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  viewCacheContract('Redis', { open: () => RedisViewCache.open({ url: server.url }) });

  it('lets entries expire with the view retention', async () => {
    const cache = await RedisViewCache.open({ url: server.url, retention: () => 200 });
    const row: StoredRow = { key: 'a', windowStart: 0, windowEnd: 1, kind: 'final', values: {} };
    await cache.fill('short', 'a', row, await cache.epoch('short'));
    expect(await cache.get('short', 'a')).toEqual(row);
    const deadline = Date.now() + 10_000;
    while ((await cache.get('short', 'a')) !== undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await cache.get('short', 'a')).toBeUndefined();
    await cache.close();
  });
});
