import { createClient, type RedisClientType } from 'redis';
import { cacheKey, latestPerKey, type ViewCache } from './view-cache.ts';
import { ViewStoreError } from './view-errors.ts';
import type { RowId, StoredRow } from './view-store.ts';

/**
 * An entry's value: `<window start>|<window end>|<row JSON>`, or `null` for a key with no row, so
 * the scripts compare windows without decoding JSON.
 */
function encode(row: StoredRow | null): string {
  return row === null ? 'null' : `${row.windowStart}|${row.windowEnd}|${JSON.stringify(row)}`;
}

function decode(text: string): StoredRow | null {
  if (text === 'null') return null;
  const second = text.indexOf('|', text.indexOf('|') + 1);
  return JSON.parse(text.slice(second + 1)) as StoredRow;
}

// The checks and sets of fill, offer and evict are each one script: Redis runs a script alone, so
// no other client's command comes between the check and the set.
const FILL = `
local epoch = redis.call('GET', KEYS[1]) or '0'
if epoch ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[2], ARGV[2]) else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return 1`;
const OFFER = `
local cached = redis.call('GET', KEYS[1])
if not cached and ARGV[4] ~= '1' then return 0 end
if cached and cached ~= 'null' then
  local s, e = string.match(cached, '^(-?%d+)|(-?%d+)|')
  if tonumber(e) > tonumber(ARGV[1]) then return 0 end
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;
const EVICT = `
local cached = redis.call('GET', KEYS[1])
if not cached or cached == 'null' then return 0 end
local s, e = string.match(cached, '^(-?%d+)|(-?%d+)|')
if s == ARGV[1] and e == ARGV[2] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

export interface RedisViewCacheOptions {
  url: string;
  /** Key prefix, so several deployments can share one Redis. Default `kappa`. */
  prefix?: string;
  /** A view's retention (ms; null: none): its entries expire that long after they are written. */
  retention?: (view: string) => number | null;
}

/** The cache in Redis (node-redis), shared by every API process of a deployment. */
export class RedisViewCache implements ViewCache {
  readonly kind = 'redis' as const;
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #retention: (view: string) => number | null;

  private constructor(client: RedisClientType, options: RedisViewCacheOptions) {
    this.#client = client;
    this.#prefix = options.prefix ?? 'kappa';
    this.#retention = options.retention ?? (() => null);
  }

  static async open(options: RedisViewCacheOptions): Promise<RedisViewCache> {
    const client = createClient({
      url: options.url,
      // Fail fast rather than queue commands for ever while Redis is away: a lookup falls back to the store.
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
    }) as RedisClientType;
    client.on('error', () => {}); // reconnects on its own; each failed command says why
    try {
      await client.connect();
    } catch (error) {
      throw new ViewStoreError(
        `Cannot reach the Redis cache at ${options.url}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return new RedisViewCache(client, options);
  }

  async get(view: string, key: unknown): Promise<StoredRow | null | undefined> {
    const text = await this.#client.get(this.#key(view, key));
    return text === null ? undefined : decode(text);
  }

  async epoch(view: string): Promise<number> {
    return Number((await this.#client.get(this.#epochKey(view))) ?? 0);
  }

  async fill(view: string, key: unknown, row: StoredRow | null, epoch: number): Promise<void> {
    await this.#client.eval(FILL, {
      keys: [this.#epochKey(view), this.#key(view, key)],
      arguments: [String(epoch), encode(row), this.#ttl(view)],
    });
  }

  async bump(view: string): Promise<void> {
    await this.#client.incr(this.#epochKey(view));
  }

  async offer(view: string, rows: readonly StoredRow[], options: { absent?: boolean } = {}): Promise<void> {
    const ttl = this.#ttl(view);
    const batch = this.#client.multi();
    for (const row of latestPerKey(rows))
      batch.eval(OFFER, {
        keys: [this.#key(view, row.key)],
        arguments: [String(row.windowEnd), encode(row), ttl, options.absent ? '1' : '0'],
      });
    if (rows.length > 0) await batch.execAsPipeline();
  }

  async evict(view: string, ids: readonly RowId[]): Promise<void> {
    const batch = this.#client.multi();
    for (const id of ids)
      batch.eval(EVICT, {
        keys: [this.#key(view, id.key)],
        arguments: [String(id.windowStart), String(id.windowEnd)],
      });
    if (ids.length > 0) await batch.execAsPipeline();
  }

  async clear(view: string): Promise<void> {
    const pattern = `${this.#prefix}:view:${view}:k:*`;
    for await (const keys of this.#client.scanIterator({ MATCH: pattern, COUNT: 1000 }))
      if (keys.length > 0) await this.#client.del(keys);
    await this.#client.incr(this.#epochKey(view));
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => {});
  }

  #key(view: string, key: unknown): string {
    return `${this.#prefix}:view:${view}:k:${cacheKey(key)}`;
  }

  #epochKey(view: string): string {
    return `${this.#prefix}:view:${view}:epoch`;
  }

  #ttl(view: string): string {
    const ms = this.#retention(view);
    return ms === null ? '' : String(Math.max(1, Math.trunc(ms)));
  }
}
