import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNexmark, maxDisorder } from '../../bench/nexmark/generator.ts';
import type { Auction, Bid, Person } from '../../bench/nexmark/model.ts';
import { nexmarkQueries } from '../../bench/nexmark/queries.ts';
import { runPipeline } from '../../src/stream/index.ts';

/** Nexmark q0, q1, q2, q3, q5, q7, q8, q11 and q12 as pipelines, checked against the same queries in batch (DuckDB SQL). */
describe('Nexmark queries equal their batch answers', () => {
  const options = { seed: 42, events: 20_000, rate: 200, outOfOrderGroup: 20 };
  const events = generateNexmark(options);
  const bids = events.filter((e): e is Bid => e.type === 'bid');
  const queries = nexmarkQueries('nexmark', maxDisorder(options));
  const input = events.map((value) => ({ value }));
  let db: Awaited<ReturnType<typeof DuckDBInstance.create>>;
  let connection: Awaited<ReturnType<(typeof db)['connect']>>;

  beforeAll(async () => {
    db = await DuckDBInstance.create(':memory:');
    connection = await db.connect();
    /** A table of `rows`, each row's values in column order (BIGINT as number, VARCHAR, DOUBLE, INTEGER). */
    const load = async <T>(
      name: string,
      columns: string,
      rows: T[],
      of: (row: T) => Array<number | string>,
    ) => {
      await connection.run(`CREATE TABLE ${name} (${columns})`);
      const types = columns.split(',').map((c) => c.trim().split(' ')[1]);
      const appender = await connection.createAppender(name);
      for (const row of rows) {
        of(row).forEach((v, i) => {
          if (types[i] === 'BIGINT') appender.appendBigInt(BigInt(v));
          else if (types[i] === 'DOUBLE') appender.appendDouble(v as number);
          else if (types[i] === 'INTEGER') appender.appendInteger(v as number);
          else appender.appendVarchar(v as string);
        });
        appender.endRow();
      }
      appender.closeSync();
    };
    await load('bids', 'auction BIGINT, bidder BIGINT, price DOUBLE, ts BIGINT', bids, (b) => [
      b.auction,
      b.bidder,
      b.price,
      b.dateTime,
    ]);
    await load(
      'persons',
      'id BIGINT, name VARCHAR, city VARCHAR, state VARCHAR, ts BIGINT',
      events.filter((e): e is Person => e.type === 'person'),
      (p) => [p.id, p.name, p.city, p.state, p.dateTime],
    );
    await load(
      'auctions',
      'id BIGINT, seller BIGINT, category INTEGER, ts BIGINT',
      events.filter((e): e is Auction => e.type === 'auction'),
      (a) => [a.id, a.seller, a.category, a.dateTime],
    );
  });
  afterAll(() => connection?.closeSync());

  const sql = async (query: string) =>
    (await connection.runAndReadAll(query))
      .getRowObjects()
      .map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
  const out = (name: string, run = runPipeline(queries[name]!, input)) => {
    expect(run.deadLetters).toEqual([]);
    return (run.topics[name] ?? []).map((r) => r.value as Record<string, unknown>);
  };
  const sorted = (rows: Array<Record<string, unknown>>) => rows.map((r) => JSON.stringify(r)).sort();

  it('q0 passes every bid through, q1 converts prices, q2 selects auctions', () => {
    expect(out('q0')).toEqual(bids);
    expect(out('q1')).toEqual(
      bids.map((b) => ({
        auction: b.auction,
        bidder: b.bidder,
        price: Math.round(b.price * 0.908 * 100) / 100,
        dateTime: b.dateTime,
      })),
    );
    const q2 = out('q2');
    expect(q2.length).toBeGreaterThan(0);
    expect(q2).toEqual(
      bids.filter((b) => b.auction % 123 === 0).map((b) => ({ auction: b.auction, price: b.price })),
    );
  });

  it('q3: auctions of category 10 by sellers in OR, ID or CA (a regular join)', async () => {
    const batch = await sql(`
      SELECT p.name, p.city, p.state, a.id FROM auctions a JOIN persons p ON a.seller = p.id
      WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')`);
    expect(batch.length).toBeGreaterThan(20);
    expect(sorted(out('q3'))).toEqual(sorted(batch));
  });

  it('q8: persons who opened an auction in the 10 s window they joined in (a window join)', async () => {
    const batch = await sql(`
      SELECT p.id, p.name, p.start FROM
        (SELECT id, name, (floor(ts / 10000) * 10000)::BIGINT AS start FROM persons) p
      JOIN (SELECT DISTINCT seller, (floor(ts / 10000) * 10000)::BIGINT AS start FROM auctions) a
        ON p.id = a.seller AND p.start = a.start`);
    expect(batch.length).toBeGreaterThan(20);
    expect(sorted(out('q8'))).toEqual(sorted(batch));
  });

  it('q5: the hottest auctions of each sliding window', async () => {
    const batch = await sql(`
      WITH counts AS (
        SELECT auction, start, count(*)::INTEGER AS num
        FROM (SELECT auction, ts, (floor(ts / 2000) * 2000 - j * 2000)::BIGINT AS start FROM bids, range(0, 5) r(j))
        WHERE start + 10000 > ts
        GROUP BY auction, start)
      SELECT c.auction, c.num, c.start FROM counts c
      JOIN (SELECT start, max(num) AS m FROM counts GROUP BY start) x ON c.start = x.start AND c.num = x.m`);
    expect(sorted(out('q5'))).toEqual(sorted(batch));
  });

  it('q7: the highest bid of each tumbling window', async () => {
    const batch = await sql(`
      SELECT b.auction, b.price, b.bidder, b.ts AS "dateTime" FROM bids b
      JOIN (SELECT floor(ts / 10000) AS w, max(price) AS m FROM bids GROUP BY w) x
        ON floor(b.ts / 10000) = x.w AND b.price = x.m`);
    expect(sorted(out('q7'))).toEqual(sorted(batch));
  });

  it('q11: bids per bidder session', async () => {
    const batch = await sql(`
      SELECT bidder, count(*)::INTEGER AS bids, min(ts)::BIGINT AS start, (max(ts) + 10000)::BIGINT AS "end"
      FROM (SELECT *, sum(CASE WHEN prev IS NULL OR ts - prev > 10000 THEN 1 ELSE 0 END)
                        OVER (PARTITION BY bidder ORDER BY ts ROWS UNBOUNDED PRECEDING) AS island
            FROM (SELECT *, lag(ts) OVER (PARTITION BY bidder ORDER BY ts) AS prev FROM bids))
      GROUP BY bidder, island`);
    expect(sorted(out('q11'))).toEqual(sorted(batch));
  });

  it('q12: bids per bidder per 10 s of processing time (here the clock follows event time)', async () => {
    const ordered = generateNexmark({ ...options, outOfOrderGroup: 1 });
    const run = runPipeline(
      queries.q12!,
      ordered.map((value) => ({ value, at: value.dateTime })),
    );
    const batch = await sql(`
      SELECT bidder, count(*)::INTEGER AS bids, (floor(ts / 10000) * 10000)::BIGINT AS start
      FROM bids GROUP BY bidder, start`);
    expect(sorted(out('q12', run))).toEqual(sorted(batch));
  });
});
