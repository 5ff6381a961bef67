import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, KeyRing } from '../../src/core/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import {
  DuckDbViewStore,
  MemoryViewCache,
  PgServer,
  PostgresViewStore,
  type ViewStore,
  Views,
} from '../../src/serve/index.ts';
import { ensureJars, javaAvailable, runJavaSource } from '../support/java.ts';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { tempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);

/** How a store's SQL differs where a test needs it. */
interface Dialect {
  /** A query that runs longer than the server's 500 ms timeout. */
  slowQuery: string;
  /** A read of a local file, refused. */
  fileRead: string;
  /** The schema the catalogue shows views in. */
  schema: string;
  /** The SQL type of window bounds. */
  timestamp: 'timestamp without time zone' | 'timestamp with time zone';
  /** What psql's \\d calls a view: Kappa's catalogue over DuckDB says table; PostgreSQL knows it is an SQL view over its version's table. */
  relation: 'table' | 'view';
}

describe('Postgres wire protocol over DuckDB', () => {
  wireSuite(async (dir) => DuckDbViewStore.open({ file: path.join(dir, 'views.duckdb') }), {
    slowQuery: 'SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3',
    fileRead: "SELECT * FROM read_csv('/etc/passwd')",
    schema: 'public',
    timestamp: 'timestamp without time zone',
    relation: 'table',
  });
});

describe.runIf(postgresAvailable())('Postgres wire protocol over PostgreSQL', () => {
  let postgres: PostgresServer;
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await postgres?.stop();
  });
  wireSuite(async () => PostgresViewStore.open({ url: postgres.url }), {
    slowQuery: 'SELECT pg_sleep(30)',
    fileRead: "SELECT pg_read_file('/etc/passwd')",
    schema: 'kappa',
    timestamp: 'timestamp with time zone',
    relation: 'view',
  });
});

function wireSuite(open: (dir: string) => Promise<ViewStore>, dialect: Dialect): void {
  let bus: EmbeddedBus;
  let store: ViewStore;
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
    store = await open(temp.dir);
    await store.define({
      name: 'revenue__v1',
      topic: 'kappa-view-revenue',
      key: 'string',
      columns: [
        { name: 'n', type: 'integer' },
        { name: 'total', type: 'number' },
      ],
      retentionMs: null,
    });
    await store.apply('revenue__v1', {
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
    await store.activate('revenue', 'revenue__v1', null);
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
    expect(all.fields.map((f) => f.dataTypeID)).toEqual([
      25,
      20,
      701,
      dialect.timestamp === 'timestamp with time zone' ? 1184 : 1114,
    ]);
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
      [dialect.fileRead, '42501'],
      ...(dialect.schema === 'kappa' ? ([['SELECT * FROM _kappa_view_offsets', '42501']] as const) : []),
      ['SELEKT 1', '42601'],
      [dialect.slowQuery, '57014'],
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
    expect(list.stdout).toMatch(new RegExp(`${dialect.schema} +\\| revenue +\\| ${dialect.relation}`));
    const table = await psql('-c', '\\d revenue');
    expect(table.stdout).toContain(
      `${dialect.relation === 'view' ? 'View' : 'Table'} "${dialect.schema}.revenue"`,
    );
    for (const line of [
      / key +\| text +\|/,
      new RegExp(` window_start +\\| ${dialect.timestamp}`),
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

  it.runIf(javaAvailable('JDBC', true))(
    'serves JDBC: binary parameters and results once statements are prepared, and refuses writes',
    async () => {
      await ensureJars('jdbc', 'postgresql-');
      const out = await runJavaSource('jdbc', 'JdbcProbe.java', [String(port), reader], {
        jvm: ['-Duser.timezone=UTC'],
      });
      const lines = out
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      const of = (label: string) => lines.filter((l) => l[0] === label).map((l) => l.slice(1));
      expect(of('all')).toEqual([
        ['m1', '1', '2.5', '0', 'final'],
        ['m2', '2', '5.0', '60000', 'final'],
        ['m3', '3', '7.5', '120000', 'final'],
      ]);
      // Runs 0-4 are unnamed statements in text; 5-7 are server-prepared, in binary: the same rows.
      const prepared = of('prepared');
      for (let i = 0; i < 8; i++)
        expect(
          prepared.filter((l) => l[0] === String(i)).map((l) => l.slice(1)),
          `run ${i}`,
        ).toEqual(
          [
            ['m1', '1', '2.5', '0'],
            ['m2', '2', '5.0', '60000'],
          ].slice(i % 2),
        );
      expect(of('typed')).toEqual(Array.from({ length: 7 }, (_, i) => [String(i), '1']));
      expect(of('aggregate')).toEqual(Array.from({ length: 7 }, (_, i) => [String(i), '6', '5.0', '180000']));
      expect(of('write')).toEqual([
        ['DELETE FROM revenue', '42501'],
        ['CREATE TABLE evil (a INT)', '42501'],
      ]);
      expect(of('after')).toEqual([['3']]);
    },
    180_000,
  );

  it("answers what Grafana's data source asks: version, tables, columns, and a time series", async () => {
    const c = await connect();
    // The queries of Grafana's grafana-postgresql-datasource (postgresMetaQuery.ts), as it sends them.
    const searchPath = `quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
      FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1),
        array_upper(string_to_array(current_setting('search_path'),','),1)) as i,
      string_to_array(current_setting('search_path'),',') s)`;
    const version = await c.query("SELECT current_setting('server_version_num')::int/100 as version");
    expect(version.rows).toEqual([{ version: 1500 }]);
    const timescale = await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
    expect(timescale.rows).toEqual([]);
    const tables = await c.query(`SELECT CASE WHEN ${searchPath} THEN quote_ident(table_name)
        ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache')
      ORDER BY CASE WHEN ${searchPath} THEN 0 ELSE 1 END, 1`);
    expect(tables.rows).toEqual([{ table: 'revenue' }]);
    for (const name of ['revenue', `${dialect.schema}.revenue`]) {
      const columns = await c.query(`SELECT quote_ident(column_name) AS "column", data_type AS "type"
        FROM information_schema.columns
        WHERE CASE WHEN array_length(parse_ident('${name}'),1) = 2
          THEN quote_ident(table_schema) = (parse_ident('${name}'))[1]
            AND quote_ident(table_name) = (parse_ident('${name}'))[2]
          ELSE quote_ident(table_name) = '${name}' AND ${searchPath} END`);
      expect(columns.rows, name).toEqual([
        { column: 'key', type: 'text' },
        { column: 'window_start', type: dialect.timestamp },
        { column: 'window_end', type: dialect.timestamp },
        { column: 'kind', type: 'text' },
        { column: 'n', type: 'bigint' },
        { column: 'total', type: 'double precision' },
      ]);
    }
    const none = await c.query(
      'SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns WHERE quote_ident(table_name) = (parse_ident(\'nope\'))[1]',
    );
    expect(none.rows).toEqual([]);
    // A panel's query after Grafana expands $__time and $__timeFilter.
    const series = await c.query(`SELECT window_start AS "time", sum(total) AS revenue FROM revenue
      WHERE window_start BETWEEN '1970-01-01T00:00:30Z' AND '1970-01-01T00:05:00Z' GROUP BY 1 ORDER BY 1`);
    expect(series.rows).toEqual([
      { time: new Date(60_000), revenue: 5 },
      { time: new Date(120_000), revenue: 7.5 },
    ]);
  });
}
