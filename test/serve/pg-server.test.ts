import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, KeyRing } from '../../src/core/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { DuckDbViewStore, MemoryViewCache, PgServer, Views } from '../../src/serve/index.ts';
import { postgresAvailable } from '../support/postgres.ts';
import { tempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);

describe('Postgres wire protocol over the views', () => {
  let bus: EmbeddedBus;
  let store: DuckDbViewStore;
  let server: PgServer;
  let port: number;
  let remove: () => Promise<void>;
  const reader = generateApiKey();
  const narrow = generateApiKey();
  const url = (key: string) => `postgresql://kappa:${encodeURIComponent(key)}@127.0.0.1:${port}/kappa`;
  const clients: pg.Client[] = [];
  const connect = async (key = reader) => {
    const c = new pg.Client({ connectionString: url(key) });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const temp = await tempDir('kappa-pgwire-');
    remove = temp.remove;
    bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    store = await DuckDbViewStore.open({ file: path.join(temp.dir, 'views.duckdb') });
    await store.define({
      name: 'revenue',
      topic: 'kappa-view-revenue',
      key: 'string',
      columns: [
        { name: 'n', type: 'integer' },
        { name: 'total', type: 'number' },
      ],
      retentionMs: null,
    });
    await store.apply('revenue', {
      upserts: ['m1', 'm2', 'm3'].map((key, i) => ({
        key,
        windowStart: 60_000 * i,
        windowEnd: 60_000 * (i + 1),
        kind: 'final' as const,
        values: { n: i + 1, total: (i + 1) * 2.5 },
      })),
      deletes: [],
      progress: [{ partition: 0, from: 0, to: 3 }],
    });
    const views = new Views({ bus, store, cache: new MemoryViewCache(), deadLetterTopic: 'dl' });
    const keys = new KeyRing([
      { name: 'reader', hash: hashApiKey(reader), scopes: ['query:*'] },
      { name: 'narrow', hash: hashApiKey(narrow), scopes: ['query:other'] },
    ]);
    server = new PgServer({ views, keys, maxRows: 1000, timeoutMs: 500 });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await server?.close();
    await store?.close();
    await bus?.close();
    await remove?.();
  });

  it('answers pg with typed rows, parameters and prepared statements', async () => {
    const c = await connect();
    const all = await c.query('SELECT key, n, total, window_start FROM revenue ORDER BY key');
    expect(all.rows.map((r) => [r.key, r.n, r.total])).toEqual([
      ['m1', '1', 2.5],
      ['m2', '2', 5],
      ['m3', '3', 7.5],
    ]);
    expect(all.rows[1].window_start).toEqual(new Date(60_000));
    // BIGINT comes as text in pg (it may not fit a double), as from PostgreSQL itself.
    expect(all.fields.map((f) => f.dataTypeID)).toEqual([25, 20, 701, 1114]);
    const some = await c.query('SELECT key FROM revenue WHERE n > $1 AND key <> $2 ORDER BY key', [1, 'm3']);
    expect(some.rows).toEqual([{ key: 'm2' }]);
    for (const key of ['m1', 'm3']) {
      const named = await c.query({
        name: 'by-key',
        text: 'SELECT total FROM revenue WHERE key = $1',
        values: [key],
      });
      expect(named.rows).toEqual([{ total: key === 'm1' ? 2.5 : 7.5 }]);
    }
    // What drivers send on connecting is taken and changes nothing.
    await c.query("SET application_name = 'grafana'");
    await c.query('BEGIN');
    await c.query('COMMIT');
    expect((await c.query('SELECT count(*)::INTEGER AS n FROM revenue')).rows).toEqual([{ n: 3 }]);
  });

  it('refuses writes, files and settings, times out slow queries, and goes on answering', async () => {
    const c = await connect();
    for (const [sql, code] of [
      ["DELETE FROM revenue WHERE key = 'm1'", '42501'],
      ['DROP TABLE revenue', '42501'],
      ["COPY revenue TO '/tmp/kappa-evil.csv'", '42501'],
      ["SELECT * FROM read_csv('/etc/passwd')", '42501'],
      ['SELEKT 1', '42601'],
      ['SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3', '57014'],
    ] as const)
      await expect(c.query(sql), sql).rejects.toMatchObject({ code });
    expect((await c.query('SELECT count(*)::INTEGER AS n FROM revenue')).rows).toEqual([{ n: 3 }]);
  });

  it('takes an API key as the password, and checks its scope', async () => {
    await expect(connect('not-a-key')).rejects.toMatchObject({ code: '28P01' });
    const c = await connect(narrow);
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '42501' });
  });

  it.runIf(postgresAvailable())('serves psql: queries, \\d, \\d NAME, and refuses a write', async () => {
    const psql = async (...args: string[]) =>
      run('psql', [url(reader), '-X', '-v', 'ON_ERROR_STOP=1', ...args], {
        env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
      });
    const q = await psql('-c', 'SELECT key, n FROM revenue ORDER BY key');
    expect(q.stdout).toMatch(/key \| n *\n-+\+-+\n m1 {2}\| 1\n m2 {2}\| 2\n m3 {2}\| 3\n\(3 rows\)/);
    const list = await psql('-c', '\\d');
    expect(list.stdout).toMatch(/public \| revenue \| table \| kappa/);
    const table = await psql('-c', '\\d revenue');
    expect(table.stdout).toContain('Table "public.revenue"');
    for (const line of [
      / key +\| text +\|.*not null/,
      / window_start +\| timestamp without time zone/,
      / n +\| bigint/,
      / total +\| double precision/,
    ])
      expect(table.stdout).toMatch(line);
    const write = await psql('-c', 'DELETE FROM revenue').then(
      () => null,
      (e: { stderr: string; code: number }) => e,
    );
    expect(write?.code).not.toBe(0);
    expect(write?.stderr).toMatch(/read-only/);
  });
});
