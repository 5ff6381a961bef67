import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import {
  DuckDbViewStore,
  type StoredRow,
  type ViewChange,
  ViewMaterializer,
  type ViewStore,
} from '../../src/serve/index.ts';
import {
  count,
  decodeViewRecord,
  max,
  PipelineRunner,
  pipeline,
  readDeadLetter,
  session,
  sum,
  tumbling,
  type ViewStep,
} from '../../src/stream/index.ts';
import { caughtUp } from '../stream/caught-up.ts';
import { readUntil } from '../stream/runners-contract.ts';
import { useTempDir } from '../support/temp-dir.ts';

interface Payment {
  merchant: string;
  amount: number;
  ts: number;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const viewStep = (p: { steps: readonly { kind: string }[] }) => p.steps.at(-1) as ViewStep;

/** What a view must hold: its topic's latest record per key, as compaction would keep it. */
function expectedRows(records: Array<{ key: Buffer | null; value: Buffer | null }>): StoredRow[] {
  const latest = new Map<string, StoredRow | null>();
  for (const r of records) {
    const { key, start, end, row } = decodeViewRecord(r.key, r.value);
    latest.set(
      r.key!.toString(),
      row && { key, windowStart: start, windowEnd: end, kind: row.kind, values: row.value },
    );
  }
  return sortRows([...latest.values()].filter((r): r is StoredRow => r !== null));
}

const sortRows = (rows: StoredRow[]) =>
  [...rows].sort((a, b) => String(a.key).localeCompare(String(b.key)) || a.windowStart - b.windowStart);

async function allRows(store: ViewStore, view: string): Promise<StoredRow[]> {
  const keys = await store.query(`SELECT DISTINCT key FROM ${view}`, { maxRows: 100_000, timeoutMs: 10_000 });
  const rows: StoredRow[] = [];
  for (const [key] of keys.rows)
    rows.push(...(await store.range(`${view}__v1`, key, 0, Number.MAX_SAFE_INTEGER)));
  return sortRows(rows);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('view materializer', () => {
  const temp = useTempDir('each', 'kappa-views-');
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function setup(partitions = 2): Promise<{ bus: Bus; store: ViewStore }> {
    const bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
    cleanups.push(() => bus.close());
    await bus.createTopic('payments', { partitions });
    const store = await DuckDbViewStore.open({ file: path.join(temp.dir, 'views', 'views.duckdb') });
    cleanups.push(() => store.close());
    return { bus, store };
  }

  async function materialize(
    bus: Bus,
    store: ViewStore,
    step: ViewStep,
    onChange?: (c: ViewChange) => void,
  ): Promise<ViewMaterializer> {
    const m = new ViewMaterializer({
      bus,
      store,
      step,
      pipeline: 'p',
      deadLetterTopic: 'dead-letters',
      ...(onChange ? { onChange } : {}),
    });
    await m.start();
    cleanups.push(() => m.stop());
    return m;
  }

  it('keeps a tumbling view equal to its topic, with typed columns SQL can aggregate', async () => {
    const { bus, store } = await setup();
    const revenue = pipeline('revenue')
      .source<Payment>('payments', { eventTime: (p) => p.ts })
      .keyBy((p) => p.merchant)
      .window(tumbling(1000))
      .aggregate({ n: count(), total: sum((p) => p.amount), biggest: max((p) => p.amount) })
      .toView('revenue');
    const payments: Payment[] = [];
    for (let i = 0; i < 200; i++) payments.push({ merchant: `m${i % 7}`, amount: i % 13, ts: i * 37 });
    await bus
      .producer()
      .send(payments.map((p, i) => ({ topic: 'payments', partition: i % 2, value: json(p) })));
    const runner = new PipelineRunner({ bus, pipeline: revenue, clock: new ManualClock(0) });
    await runner.start();
    cleanups.push(() => runner.stop());
    await materialize(bus, store, viewStep(revenue));
    await caughtUp(bus, runner);
    const topic = await readUntil(bus, 'kappa-view-revenue', 1);
    await until(
      async () => (await store.rowCount('revenue__v1').catch(() => 0)) === expectedRows(topic).length,
      'rows',
    );
    expect(await allRows(store, 'revenue')).toEqual(expectedRows(topic));
    const [definition] = await store.views();
    expect(definition!.columns).toEqual([
      { name: 'n', type: 'integer' },
      { name: 'total', type: 'number' },
      { name: 'biggest', type: 'number' },
    ]);
    expect(definition!.key).toBe('string');
    // Typed columns: SQL adds them up as numbers.
    const sql = await store.query('SELECT sum(n) AS n, max(biggest) AS biggest FROM revenue', {
      maxRows: 1,
      timeoutMs: 5000,
    });
    const rows = expectedRows(topic);
    expect(sql.rows[0]).toEqual([
      rows.reduce((n, r) => n + (r.values.n as number), 0),
      Math.max(...rows.map((r) => r.values.biggest as number)),
    ]);
  });

  it('deletes the rows of sessions merged into another, so the view holds only live sessions', async () => {
    const { bus, store } = await setup(1);
    // Early results of open sessions (the watermark stays a second behind): their rows change as
    // records come, and a merge replaces two rows with one.
    const journeys = pipeline('journeys')
      .source<Payment>('payments', { eventTime: (p) => p.ts, maxOutOfOrder: 1000 })
      .keyBy((p) => p.merchant)
      .window(session(300), { emit: { updates: 0 } })
      .aggregate({ n: count() })
      .toView('journeys');
    const runner = new PipelineRunner({ bus, pipeline: journeys, clock: new ManualClock(0) });
    await runner.start();
    cleanups.push(() => runner.stop());
    const changes: ViewChange[] = [];
    await materialize(bus, store, viewStep(journeys), (c) => changes.push(c));
    const send = (ts: number) =>
      bus
        .producer()
        .send([{ topic: 'payments', partition: 0, value: json({ merchant: 'u', amount: 1, ts }) }]);
    // Two sessions 300 ms of gap apart, then a record between them that bridges both into one.
    await send(0);
    await send(500);
    await until(async () => (await store.rowCount('journeys__v1').catch(() => 0)) === 2, 'two sessions');
    await send(250);
    await until(async () => (await store.rowCount('journeys__v1')) === 1, 'one merged session');
    const [merged] = await allRows(store, 'journeys');
    expect(merged).toMatchObject({
      key: 'u',
      windowStart: 0,
      windowEnd: 800,
      kind: 'early',
      values: { n: 3 },
    });
    expect(changes.some((c) => c.deletes.length > 0)).toBe(true);
  });

  it('dead-letters records of another shape and goes on', async () => {
    const { bus, store } = await setup(1);
    const step: ViewStep = {
      kind: 'toView',
      name: 'toView-1',
      view: 'shapes',
      version: 1,
      table: 'shapes__v1',
      topic: 'kappa-view-shapes',
      retentionMs: null,
      columns: { n: 'integer' },
    };
    await bus.createTopic(step.topic, { partitions: 1, compacted: true });
    const record = (key: unknown, start: number, value: unknown) => ({
      topic: step.topic,
      partition: 0,
      key: json([key, start, start + 10]),
      value: json({ key, start, end: start + 10, kind: 'final', value }),
    });
    await bus
      .producer()
      .send([
        record('a', 0, { n: 1 }),
        record('b', 0, { n: 'many' }),
        { topic: step.topic, partition: 0, key: Buffer.from('not json'), value: json({}) },
        record('c', 0, { n: 2, extra: true }),
        record('d', 0, { n: 4 }),
      ]);
    await materialize(bus, store, step);
    await until(async () => (await store.rowCount('shapes__v1').catch(() => 0)) === 2, 'the good rows');
    expect((await allRows(store, 'shapes')).map((r) => r.key)).toEqual(['a', 'd']);
    const letters = (await readUntil(bus, 'dead-letters', 3)).map((r) => readDeadLetter(r)!);
    expect(
      letters.map((l) => [l.kind, l.errorClass, l.offset]).sort((a, b) => Number(a[2]) - Number(b[2])),
    ).toEqual([
      ['result', 'ViewRowError', 1],
      ['result', 'ViewRowError', 2],
      ['result', 'ViewRowError', 3],
    ]);
  });

  it('resumes from the offsets in the store: a restart applies nothing twice and loses nothing', async () => {
    const { bus, store } = await setup(1);
    const step: ViewStep = {
      kind: 'toView',
      name: 'toView-1',
      view: 'counts',
      version: 1,
      table: 'counts__v1',
      topic: 'kappa-view-counts',
      retentionMs: null,
      columns: { n: 'integer' },
    };
    await bus.createTopic(step.topic, { partitions: 1, compacted: true });
    const put = (key: string, n: number) => ({
      topic: step.topic,
      partition: 0,
      key: json([key, 0, 10]),
      value: json({ key, start: 0, end: 10, kind: 'update', value: { n } }),
    });
    await bus.producer().send([put('a', 1), put('b', 1)]);
    const first = await materialize(bus, store, step);
    await until(
      async () => (await store.offsets('counts__v1').catch(() => new Map())).get(0) === 2,
      'batch 1',
    );
    await first.stop();
    await bus.producer().send([put('a', 2), { ...put('b', 0), value: null }, put('c', 5)]);
    const applied: ViewChange[] = [];
    await materialize(bus, store, step, (c) => applied.push(c));
    await until(async () => (await store.offsets('counts__v1')).get(0) === 5, 'batch 2');
    // Only the records after the first run's offsets were applied again.
    expect(applied.flatMap((c) => c.upserts.map((r) => r.key))).toEqual(['a', 'c']);
    expect((await allRows(store, 'counts')).map((r) => [r.key, r.values.n])).toEqual([
      ['a', 2],
      ['c', 5],
    ]);
  });
});
