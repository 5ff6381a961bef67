import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  count,
  hopping,
  max,
  min,
  pipeline,
  runPipeline,
  session,
  sum,
  type TestInput,
  tumbling,
  type WindowAssigner,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

/**
 * The Kappa promise: the stream equals the batch. Random event sets (seeded: keys, several partitions,
 * disorder up to the watermark bound) go through tumbling, hopping and session windows, and must give
 * exactly the windows DuckDB computes with SQL over the same events.
 */
const SEEDS = Number(process.env.KAPPA_ORACLE_SEEDS ?? 100);
const BOUND = 50;

interface Event {
  k: string;
  ts: number;
  v: number;
}

/** Events per partition in a delivery order whose disorder is at most BOUND, partitions interleaved at random. */
function generate(seed: number): { events: Event[]; input: TestInput[] } {
  const random = seededRandom(seed);
  const partitions = 1 + Math.floor(random() * 3);
  const perPartition = Array.from({ length: partitions }, () => {
    const n = 20 + Math.floor(random() * 80);
    let t = Math.floor(random() * 1000);
    const events: Event[] = [];
    for (let i = 0; i < n; i++) {
      t += Math.floor(random() * 40);
      events.push({ k: `k${Math.floor(random() * 4)}`, ts: t, v: Math.floor(random() * 100) - 20 });
    }
    // Delivered in order of ts plus a delay of up to BOUND: no record is more than BOUND behind.
    return events
      .map((e) => ({ e, at: e.ts + random() * BOUND }))
      .sort((a, b) => a.at - b.at)
      .map(({ e }) => e);
  });
  const input: TestInput[] = [];
  const cursors = perPartition.map(() => 0);
  while (cursors.some((c, p) => c < perPartition[p]!.length)) {
    const open = cursors.map((c, p) => (c < perPartition[p]!.length ? p : -1)).filter((p) => p >= 0);
    const p = open[Math.floor(random() * open.length)]!;
    input.push({ value: perPartition[p]![cursors[p]!++]!, partition: p });
  }
  return { events: perPartition.flat(), input };
}

type Row = [k: string, start: number, end: number, n: number, total: number, lo: number, hi: number];

function stream(assigner: WindowAssigner, input: TestInput[]): Row[] {
  const p = pipeline('oracle')
    .source<Event>('events', { eventTime: (e) => e.ts, maxOutOfOrder: BOUND })
    .keyBy((e) => e.k)
    .window(assigner)
    .aggregate({ n: count(), total: sum((e) => e.v), lo: min((e) => e.v), hi: max((e) => e.v) })
    .map(
      (w): Row => [w.key, w.window.start, w.window.end, w.value.n, w.value.total, w.value.lo!, w.value.hi!],
    )
    .toTopic('out');
  const run = runPipeline(p, input);
  expect(run.deadLetters).toEqual([]);
  return (run.topics.out ?? []).map((r) => r.value as Row);
}

const AGG = 'count(*)::INTEGER AS n, sum(v)::INTEGER AS total, min(v)::INTEGER AS lo, max(v)::INTEGER AS hi';

const SQL = {
  tumbling: (size: number) => `
    SELECT k, start, start + ${size} AS "end", ${AGG}
    FROM (SELECT *, (floor(ts / ${size}) * ${size})::BIGINT AS start FROM events)
    GROUP BY k, start`,
  hopping: (size: number, slide: number) => `
    SELECT k, start, start + ${size} AS "end", ${AGG}
    FROM (SELECT e.*, (floor(ts / ${slide}) * ${slide} - j * ${slide})::BIGINT AS start
          FROM events e, range(0, ${size / slide}) r(j))
    WHERE start + ${size} > ts
    GROUP BY k, start`,
  // Gaps and islands: a session starts where a key's next event is more than the gap after the last.
  session: (gap: number) => `
    SELECT k, min(ts)::BIGINT AS start, (max(ts) + ${gap})::BIGINT AS "end", ${AGG}
    FROM (SELECT *, sum(CASE WHEN ts - prev > ${gap} OR prev IS NULL THEN 1 ELSE 0 END)
                      OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) AS island
          FROM (SELECT *, lag(ts) OVER (PARTITION BY k ORDER BY ts) AS prev FROM events))
    GROUP BY k, island`,
};

describe('stream equals batch (DuckDB oracle)', () => {
  let db: Awaited<ReturnType<typeof DuckDBInstance.create>>;
  let connection: Awaited<ReturnType<(typeof db)['connect']>>;
  beforeAll(async () => {
    db = await DuckDBInstance.create(':memory:');
    connection = await db.connect();
  });
  afterAll(() => {
    connection?.closeSync();
  });

  async function batch(events: Event[], query: string): Promise<Row[]> {
    await connection.run('CREATE OR REPLACE TABLE events (k VARCHAR, ts BIGINT, v INTEGER)');
    const appender = await connection.createAppender('events');
    for (const e of events) {
      appender.appendVarchar(e.k);
      appender.appendBigInt(BigInt(e.ts));
      appender.appendInteger(e.v);
      appender.endRow();
    }
    appender.closeSync();
    const result = await connection.runAndReadAll(query);
    return result.getRows().map((r) => r.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as Row);
  }

  const sorted = (rows: Row[]) =>
    [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1] || a[2] - b[2]));

  it(`tumbling, hopping and session windows over ${SEEDS} seeds`, async () => {
    for (let seed = 0; seed < SEEDS; seed++) {
      const { events, input } = generate(seed);
      const cases: Array<[string, WindowAssigner, string]> = [
        ['tumbling', tumbling(100), SQL.tumbling(100)],
        ['hopping', hopping(120, 40), SQL.hopping(120, 40)],
        ['session', session(30), SQL.session(30)],
      ];
      for (const [kind, assigner, query] of cases)
        expect({ seed, kind, rows: sorted(stream(assigner, input)) }).toEqual({
          seed,
          kind,
          rows: sorted(await batch(events, query)),
        });
    }
  }, 120_000);
});
