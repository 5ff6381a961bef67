import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/core/index.ts';
import {
  QueryInvalidError,
  QueryRefusedError,
  type StoredRow,
  UnknownViewError,
  type ViewDefinition,
  type ViewStore,
  ViewStoreConflictError,
} from '../../src/serve/index.ts';
import { uniqueName } from '../support/temp-dir.ts';

/**
 * The ViewStore contract suite: DuckDB and PostgreSQL run it unchanged. `reopen` closes a store and
 * opens it again on the same database.
 */
export interface ViewStoreHarness {
  open(): Promise<ViewStore>;
  reopen(store: ViewStore): Promise<ViewStore>;
  /** A read that runs for far longer than a second, in the store's dialect. */
  slowQuery: string;
}

const QUERY = { maxRows: 100, timeoutMs: 10_000 };

/** A view name no other test (or run against a shared server) uses. */
const viewName = () => uniqueName('v').replaceAll('-', '_').toLowerCase();

function revenue(name = viewName()): ViewDefinition {
  return {
    name,
    topic: `kappa-view-${name}`,
    key: 'string',
    columns: [
      { name: 'n', type: 'integer' },
      { name: 'revenue', type: 'number' },
      { name: 'top', type: 'json' },
      { name: 'flagged', type: 'boolean' },
      { name: 'label', type: 'string' },
    ],
    retentionMs: null,
  };
}

const row = (
  key: unknown,
  start: number,
  n: number,
  extra: Partial<StoredRow['values']> = {},
): StoredRow => ({
  key,
  windowStart: start,
  windowEnd: start + 60_000,
  kind: 'final',
  values: { n, revenue: n * 1.5, top: ['a', { b: n }], flagged: n % 2 === 0, label: `l${n}`, ...extra },
});

export function viewStoreContract(name: string, harness: ViewStoreHarness): void {
  describe(`ViewStore contract: ${name}`, () => {
    const open: ViewStore[] = [];
    const store = async () => {
      const s = await harness.open();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => {});
    });

    it('keeps a view defined with its first columns, also after a reopen', async () => {
      const s = await store();
      const view = revenue();
      expect(await s.define(view)).toEqual(view);
      // A second definition of the same name does not change the columns its rows were written with.
      expect(await s.define({ ...view, columns: [{ name: 'other', type: 'string' }] })).toEqual(view);
      const again = await harness.reopen(s);
      open.splice(open.indexOf(s), 1, again);
      expect((await again.views()).find((v) => v.name === view.name)).toEqual(view);
    });

    it('upserts rows with every column type and reads them back as written', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      const rows = [row('m1', 0, 3), row('m1', 60_000, 4), row('m2', 0, 5, { label: null, top: null })];
      await s.apply(view.name, { upserts: rows, deletes: [], progress: [{ partition: 0, from: 0, to: 3 }] });
      expect(await s.range(view.name, 'm1', 0, 120_000)).toEqual(rows.slice(0, 2));
      expect(await s.latest(view.name, 'm1')).toEqual(rows[1]);
      expect(await s.latest(view.name, 'm2')).toEqual(rows[2]);
      expect(await s.latest(view.name, 'nobody')).toBeNull();
      expect(await s.latestEnds(view.name, ['m1', 'm2', 'nobody'])).toEqual(
        new Map([
          ['"m1"', 120_000],
          ['"m2"', 60_000],
        ]),
      );
      expect(await s.rowCount(view.name)).toBe(3);
      expect(await s.offsets(view.name)).toEqual(new Map([[0, 3]]));
    });

    it('replaces a row of the same key and window, and deletes rows by id', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('m1', 0, 1), row('m1', 60_000, 2)],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 2 }],
      });
      const update = { ...row('m1', 0, 10), kind: 'update' as const };
      await s.apply(view.name, {
        upserts: [update],
        deletes: [{ key: 'm1', windowStart: 60_000, windowEnd: 120_000 }],
        progress: [{ partition: 0, from: 2, to: 4 }],
      });
      expect(await s.range(view.name, 'm1', 0, Number.MAX_SAFE_INTEGER)).toEqual([update]);
    });

    it('applies a batch only from the offsets it holds, so a second writer cannot apply one twice', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      const batch = { upserts: [row('m1', 0, 1)], deletes: [], progress: [{ partition: 0, from: 0, to: 1 }] };
      await s.apply(view.name, batch);
      await expect(s.apply(view.name, { ...batch, upserts: [row('m1', 0, 99)] })).rejects.toBeInstanceOf(
        ViewStoreConflictError,
      );
      // Nothing of the refused batch is there: not the row, not the offsets.
      expect((await s.latest(view.name, 'm1'))?.values.n).toBe(1);
      expect(await s.offsets(view.name)).toEqual(new Map([[0, 1]]));
    });

    it('keeps offsets and rows together across a reopen', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('m1', 0, 1)],
        deletes: [],
        progress: [
          { partition: 0, from: 0, to: 7 },
          { partition: 2, from: 0, to: 3 },
        ],
      });
      const again = await harness.reopen(s);
      open.splice(open.indexOf(s), 1, again);
      expect(await again.offsets(view.name)).toEqual(
        new Map([
          [0, 7],
          [2, 3],
        ]),
      );
      expect(await again.latest(view.name, 'm1')).toEqual(row('m1', 0, 1));
    });

    it('drops rows past retention, counted back from the batch', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('m1', 0, 1), row('m1', 60_000, 2), row('m1', 120_000, 3)],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 3 }],
        expireBefore: 120_000,
      });
      expect((await s.range(view.name, 'm1', 0, Number.MAX_SAFE_INTEGER)).map((r) => r.values.n)).toEqual([
        2, 3,
      ]);
    });

    it('keys of each type are looked up exactly', async () => {
      const s = await store();
      for (const [key, type] of [
        [42, 'integer'],
        [1.5, 'number'],
        [true, 'boolean'],
        [{ card: 'x', region: 'eu' }, 'json'],
      ] as const) {
        const view: ViewDefinition = { ...revenue(), key: type };
        await s.define(view);
        await s.apply(view.name, {
          upserts: [row(key, 0, 1)],
          deletes: [],
          progress: [{ partition: 0, from: 0, to: 1 }],
        });
        expect((await s.latest(view.name, key))?.key).toEqual(key);
        expect([...(await s.latestEnds(view.name, [key])).keys()]).toEqual([JSON.stringify(key)]);
      }
    });

    it('answers the top rows of the latest window, or of a window given', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [
          row('a', 0, 9),
          row('b', 0, 1),
          row('a', 60_000, 2),
          row('b', 60_000, 7),
          row('c', 60_000, 5),
        ],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 5 }],
      });
      expect((await s.top(view.name, 'n', 2)).map((r) => r.key)).toEqual(['b', 'c']);
      expect((await s.top(view.name, 'revenue', 5, 0)).map((r) => r.key)).toEqual(['a', 'b']);
    });

    it('runs read-only SQL over views, with a row limit', async () => {
      const s = await store();
      const name = viewName();
      const view = revenue(`${name}__v1`);
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('a', 0, 9), row('b', 0, 1), row('a', 60_000, 2)],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 3 }],
      });
      // Queries read a view by its name, which points at one of its version tables.
      await s.activate(name, view.name, null);
      const result = await s.query(
        `SELECT key, sum(n) AS total FROM ${name} GROUP BY key ORDER BY key`,
        QUERY,
      );
      expect(result.columns.map((c) => c.name)).toEqual(['key', 'total']);
      expect(result.rows).toEqual([
        ['a', 11],
        ['b', 1],
      ]);
      expect(result.truncated).toBe(false);
      const limited = await s.query(`SELECT * FROM ${name}`, { ...QUERY, maxRows: 2 });
      expect(limited.rows).toHaveLength(2);
      expect(limited.truncated).toBe(true);
    });

    it('refuses every statement that is not a read, and reads of files or settings', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('a', 0, 1)],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 1 }],
      });
      const hostile = [
        `INSERT INTO ${view.name} (key, window_start, window_end, kind) VALUES ('x', now(), now(), 'final')`,
        `UPDATE ${view.name} SET n = 0`,
        `DELETE FROM ${view.name}`,
        `DROP TABLE ${view.name}`,
        `CREATE TABLE evil (x INT)`,
        `SELECT 1; DELETE FROM ${view.name}`,
        `COPY ${view.name} TO '/tmp/kappa-evil.csv'`,
        `SET search_path = public`,
        `SELECT * FROM read_csv('/etc/passwd')`,
        `SELECT pg_read_file('/etc/passwd')`,
        `SELECT * FROM glob('/etc/*')`,
        `ATTACH '/tmp/kappa-evil.db' AS evil`,
        `INSTALL httpfs`,
        `LOAD httpfs`,
      ];
      for (const sql of hostile) {
        const error = await s.query(sql, QUERY).then(
          () => null,
          (e: unknown) => e,
        );
        // Refused, or (a function the dialect lacks) invalid: never run.
        expect(error, sql).toBeInstanceOf(Error);
        expect(
          error instanceof QueryRefusedError || error instanceof QueryInvalidError,
          `${sql}: ${error}`,
        ).toBe(true);
      }
      expect(await s.rowCount(view.name)).toBe(1);
      expect((await s.latest(view.name, 'a'))?.values.n).toBe(1);
    });

    it('stops a query at its timeout and goes on answering', async () => {
      const s = await store();
      await expect(s.query(harness.slowQuery, { maxRows: 10, timeoutMs: 300 })).rejects.toBeInstanceOf(
        TimeoutError,
      );
      expect((await s.query('SELECT 1 AS one', QUERY)).rows).toEqual([[1]]);
    });

    it('says which view is unknown, and what is wrong with bad SQL', async () => {
      const s = await store();
      await expect(s.latest('no_such_view', 'k')).rejects.toBeInstanceOf(UnknownViewError);
      await expect(s.query('SELEC nonsense', QUERY)).rejects.toBeInstanceOf(QueryInvalidError);
      await expect(s.query('SELECT * FROM no_such_table', QUERY)).rejects.toBeInstanceOf(QueryInvalidError);
    });

    it('points a view at one version table, switching atomically under queries, only from the one expected', async () => {
      const s = await store();
      const view = viewName();
      const v1 = { ...revenue(`${view}__v1`) };
      // Version 2 has other columns: a switch is not a replace.
      const v2: ViewDefinition = { ...revenue(`${view}__v2`), columns: [{ name: 'n', type: 'integer' }] };
      await s.define(v1);
      await s.define(v2);
      const fill = async (table: string, n: number, count: number) =>
        s.apply(table, {
          upserts: Array.from({ length: count }, (_, i) => ({ ...row(`k${i}`, 0, n), values: { n } })),
          deletes: [],
          progress: [{ partition: 0, from: 0, to: count }],
        });
      await fill(v1.name, 1, 50);
      await fill(v2.name, 2, 80);
      expect(await s.activate(view, v1.name, null)).toBe(true);
      expect(await s.activate(view, v2.name, null)).toBe(false);
      expect((await s.activeTables()).get(view)).toEqual({ table: v1.name, held: 0 });
      const sql = `SELECT count(*), sum(n) FROM ${view}`;
      expect((await s.query(sql, QUERY)).rows).toEqual([[50, 50]]);
      // Queries while the view flips back and forth: each answer is one whole version's.
      let stop = false;
      const answers = new Set<string>();
      const load = (async () => {
        while (!stop) answers.add(JSON.stringify((await s.query(sql, QUERY)).rows));
      })();
      for (let i = 0; i < 10; i++) {
        const [from, to] = i % 2 === 0 ? [v1.name, v2.name] : [v2.name, v1.name];
        expect(await s.activate(view, to, from)).toBe(true);
      }
      stop = true;
      await load;
      expect(
        [...answers].every((a) => a === '[[50,50]]' || a === '[[80,160]]'),
        [...answers].join(),
      ).toBe(true);
      expect((await s.activeTables()).get(view)).toEqual({ table: v1.name, held: 0 });
      await expect(s.activate(view, `${view}__v9`, v1.name)).rejects.toBeInstanceOf(UnknownViewError);
      expect(await s.activate(view, v1.name, v1.name, 2)).toBe(true);
      const reopened = await harness.reopen(s);
      open.push(reopened);
      expect((await reopened.activeTables()).get(view)).toEqual({ table: v1.name, held: 2 });
      expect((await reopened.query(sql, QUERY)).rows).toEqual([[50, 50]]);
    });

    it('drops a view with its rows and offsets', async () => {
      const s = await store();
      const view = revenue();
      await s.define(view);
      await s.apply(view.name, {
        upserts: [row('a', 0, 1)],
        deletes: [],
        progress: [{ partition: 0, from: 0, to: 1 }],
      });
      await s.drop(view.name);
      expect((await s.views()).some((v) => v.name === view.name)).toBe(false);
      expect(await s.offsets(view.name)).toEqual(new Map());
      await expect(s.rowCount(view.name)).rejects.toBeInstanceOf(UnknownViewError);
    });
  });
}
