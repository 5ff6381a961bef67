import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
  combine,
  count,
  hopping,
  type LateRecord,
  MemoryStateStore,
  session,
  sum,
  tumbling,
  type WindowAssigner,
  WindowOperator,
  type WindowResult,
  windowSteps,
} from '../../src/stream/index.ts';

interface Event {
  key: string;
  ts: number;
  v: number;
}

const agg = combine({ n: count<Event>(), total: sum<Event>((e) => e.v) });

/** Feeds events in order with a watermark maxOutOfOrder behind the largest time seen, then ends the input. */
function run(
  assigner: WindowAssigner,
  events: Array<[key: string, ts: number, v?: number]>,
  options: { maxOutOfOrder?: number; allowedLateness?: number; crashAt?: number } = {},
) {
  const out: Array<WindowResult<string, { n: number; total: number }>> = [];
  const late: Array<LateRecord<Event, string>> = [];
  let store = new MemoryStateStore();
  const make = () =>
    windowSteps<Event, string, unknown, { n: number; total: number }>({
      name: 'w',
      assigner,
      aggregator: agg as Aggregator<Event, unknown, { n: number; total: number }>,
      allowedLateness: options.allowedLateness ?? 0,
      store,
    });
  let op = make();
  let max = Number.NEGATIVE_INFINITY;
  let watermark = Number.NEGATIVE_INFINITY;
  events.forEach(([key, ts, v = 1], i) => {
    if (i === options.crashAt) {
      // Restore into a fresh store and operator, as after a crash: results must not change.
      op.flush();
      store = MemoryStateStore.copyOf(store);
      op = make();
      op.restored();
    }
    op.process(
      { key, ts, v },
      key,
      ts,
      watermark,
      (r) => out.push(r),
      (l) => late.push(l),
    );
    max = Math.max(max, ts);
    const next = max - (options.maxOutOfOrder ?? 0) - 1;
    if (next > watermark) {
      watermark = next;
      op.onWatermark(watermark, (r) => out.push(r));
    }
  });
  op.onWatermark(Number.POSITIVE_INFINITY, (r) => out.push(r));
  return {
    out: out.map((r) => ({
      key: r.key,
      ...r.window,
      ...r.value,
      kind: r.kind,
      ...(r.replaces ? { replaces: r.replaces } : {}),
    })),
    late: late.map((l) => [l.key, l.eventTime]),
  };
}

describe('window operator', () => {
  it('fires tumbling windows once, in order, when the watermark passes their end', () => {
    const { out, late } = run(tumbling(10), [
      ['a', 1],
      ['b', 3],
      ['a', 8],
      ['a', 12],
      ['b', 25],
    ]);
    expect(out).toEqual([
      { key: 'a', start: 0, end: 10, n: 2, total: 2, kind: 'final' },
      { key: 'b', start: 0, end: 10, n: 1, total: 1, kind: 'final' },
      { key: 'a', start: 10, end: 20, n: 1, total: 1, kind: 'final' },
      { key: 'b', start: 20, end: 30, n: 1, total: 1, kind: 'final' },
    ]);
    expect(late).toEqual([]);
  });

  it('judges a session record late by the merged session, as Flink does', () => {
    const { out, late } = run(session(100), [
      ['a', 100],
      ['a', 180], // session [100, 280)
      ['z', 250], // watermark 249
      // Its own window [140, 240) ended before the watermark, but it falls into the open session.
      ['a', 140],
      ['a', 600],
    ]);
    expect(late).toEqual([]);
    expect(out.filter((r) => r.key === 'a')[0]).toEqual({
      key: 'a',
      start: 100,
      end: 280,
      n: 3,
      total: 3,
      kind: 'final',
    });
  });

  it('puts each record in every hopping window it falls in', () => {
    const { out } = run(hopping(10, 5), [
      ['a', 7],
      ['a', 12],
    ]);
    expect(out.map((r) => [r.start, r.end, r.n])).toEqual([
      [0, 10, 1],
      [5, 15, 2],
      [10, 20, 1],
    ]);
  });

  it('takes out-of-order records within the bound and sends later ones to late', () => {
    const { out, late } = run(
      tumbling(10),
      [
        ['a', 5],
        ['a', 14],
        ['a', 8], // 6 behind the max: within the bound of 10
        ['a', 30],
        ['a', 9], // the watermark (19) has passed window [0,10): late
      ],
      { maxOutOfOrder: 10 },
    );
    expect(out.filter((r) => r.start === 0)).toEqual([
      { key: 'a', start: 0, end: 10, n: 2, total: 2, kind: 'final' },
    ]);
    expect(late).toEqual([['a', 9]]);
  });

  it('updates a fired window with late records within the allowed lateness, then drops it', () => {
    const { out, late } = run(
      tumbling(10),
      [
        ['a', 5],
        ['a', 15], // fires [0,10)
        ['a', 7], // late, within lateness 10: update
        ['a', 25], // watermark 24: [0,10) is past its lateness (9 + 10 <= 24)
        ['a', 8], // too late
      ],
      { allowedLateness: 10 },
    );
    expect(out.filter((r) => r.start === 0)).toEqual([
      { key: 'a', start: 0, end: 10, n: 1, total: 1, kind: 'final' },
      { key: 'a', start: 0, end: 10, n: 2, total: 2, kind: 'update' },
    ]);
    expect(late).toEqual([['a', 8]]);
  });

  it('merges session windows when a record bridges two sessions', () => {
    const { out } = run(
      session(10),
      [
        ['a', 0],
        ['a', 30],
        ['a', 15], // within the bound: bridges [0,10) and [30,40)? 15..25 touches neither
        ['a', 22], // 22..32 touches [15,25) and [30,40): all of it becomes one session
        ['b', 1],
      ],
      { maxOutOfOrder: 50 },
    );
    expect(out).toEqual([
      { key: 'a', start: 0, end: 10, n: 1, total: 1, kind: 'final' },
      { key: 'b', start: 1, end: 11, n: 1, total: 1, kind: 'final' },
      { key: 'a', start: 15, end: 40, n: 3, total: 3, kind: 'final' },
    ]);
  });

  it('reports the emitted sessions a late record merged away', () => {
    const { out } = run(
      session(10),
      [
        ['a', 0],
        ['a', 14],
        ['a', 40], // fires [0,10) and [14,24)
        ['a', 9], // late within lateness: bridges both into [0,24)
      ],
      { allowedLateness: 100 },
    );
    expect(out.slice(0, 2).map((r) => [r.start, r.end, r.kind])).toEqual([
      [0, 10, 'final'],
      [14, 24, 'final'],
    ]);
    expect(out[2]).toEqual({
      key: 'a',
      start: 0,
      end: 24,
      n: 3,
      total: 3,
      kind: 'update',
      replaces: [
        { start: 0, end: 10 },
        { start: 14, end: 24 },
      ],
    });
  });

  it('gives the same results when it restarts from its store at any point', () => {
    const events: Array<[string, number, number]> = Array.from({ length: 60 }, (_, i) => [
      `k${i % 3}`,
      (i * 7919) % 100,
      i,
    ]);
    for (const assigner of [tumbling(10), hopping(20, 5), session(6)]) {
      const straight = run(assigner, events, { maxOutOfOrder: 30, allowedLateness: 5 });
      for (const crashAt of [1, 17, 42, 59])
        expect(run(assigner, events, { maxOutOfOrder: 30, allowedLateness: 5, crashAt })).toEqual(straight);
    }
  });

  it('loads thousands of windows from its store in chunks, and then fires them as an uninterrupted run does', () => {
    // Keys whose store order (JSON text) differs from the order they opened in.
    const events: Array<[string, number, number]> = Array.from({ length: 6000 }, (_, i) => [
      `k${(i * 7) % 5000}`,
      i % 50,
      i,
    ]);
    for (const assigner of [tumbling(100), session(1000)]) {
      const straight = run(assigner, events);
      expect(run(assigner, events, { crashAt: 5500 })).toEqual(straight);
    }
    const store = new MemoryStateStore();
    const make = () =>
      new WindowOperator<Event, string, unknown, { n: number; total: number }>({
        name: 'w',
        assigner: tumbling(100),
        aggregator: agg as Aggregator<Event, unknown, { n: number; total: number }>,
        allowedLateness: 0,
        store,
      });
    const op = make();
    for (const [key, ts, v] of events)
      op.process(
        { key, ts, v },
        key,
        ts,
        Number.NEGATIVE_INFINITY,
        () => {},
        () => {},
      );
    op.flush();
    const loaded = make();
    // 5,000 windows: the loader stops twice to let the event loop run.
    expect([...loaded.loading()].length).toBe(2);
  });
});
