import { describe, expect, it } from 'vitest';
import {
  avg,
  count,
  pipeline,
  runPipeline,
  session,
  sum,
  tumbling,
  type WindowOptions,
} from '../../src/stream/index.ts';

interface Payment {
  merchantId: string;
  amount: number;
  status: string;
  ts: number;
}

const revenue = pipeline('merchant-revenue')
  .source<Payment>('payments', { eventTime: (p) => p.ts, maxOutOfOrder: '30s' })
  .filter((p) => p.status === 'settled')
  .keyBy((p) => p.merchantId)
  .window(tumbling('5m'), { allowedLateness: '10m' })
  .aggregate({ count: count(), revenue: sum((p) => p.amount), mean: avg((p) => p.amount) })
  .map((w) => ({ merchant: w.key, start: w.window.start, kind: w.kind, ...w.value }))
  .toTopic('merchant-revenue-5m');

const pay = (merchantId: string, amount: number, minute: number, status = 'settled') => ({
  value: { merchantId, amount, status, ts: minute * 60_000 },
});

describe('pipelines', () => {
  it('runs the DESIGN.md example: filter, key, window, aggregate, write', () => {
    const run = runPipeline(revenue, [
      pay('m1', 10, 1),
      pay('m2', 7, 2),
      pay('m1', 5, 3, 'pending'),
      pay('m1', 20, 4),
      pay('m1', 1, 6),
    ]);
    expect(run.topics['merchant-revenue-5m']).toEqual([
      { key: 'm1', value: { merchant: 'm1', start: 0, kind: 'final', count: 2, revenue: 30, mean: 15 } },
      { key: 'm2', value: { merchant: 'm2', start: 0, kind: 'final', count: 1, revenue: 7, mean: 7 } },
      { key: 'm1', value: { merchant: 'm1', start: 300_000, kind: 'final', count: 1, revenue: 1, mean: 1 } },
    ]);
    expect(run.deadLetters).toEqual([]);
  });

  it('sends undecodable records, throwing functions and bad event times to dead letters and goes on', () => {
    const p = pipeline('fragile')
      .source<{ n: number; ts: unknown }>('in', { eventTime: (v) => v.ts as number })
      .map((v) => {
        if (v.n === 13) throw new RangeError('unlucky');
        return v;
      })
      .keyBy((v) => (v.n === 7 ? undefined : 'k'))
      .window(tumbling(10))
      .aggregate({ n: count() })
      .toTopic('out');
    const run = runPipeline(p, [
      { value: { n: 1, ts: 1 } },
      { bytes: Buffer.from('{not json') },
      { value: { n: 13, ts: 2 } },
      { value: { n: 2, ts: 'yesterday' } },
      { value: { n: 7, ts: 3 } },
      { value: { n: 3, ts: 4 } },
    ]);
    expect(run.topics.out).toEqual([
      { key: 'k', value: expect.objectContaining({ value: { n: 2 }, kind: 'final' }) },
    ]);
    expect(run.deadLetters.map((d) => [d.reason, d.step, d.errorClass, d.offset])).toEqual([
      ['decode', 'source', 'SyntaxError', 1],
      ['error', 'map-1', 'RangeError', 2],
      ['error', 'source', 'TypeError', 3],
      ['error', 'keyBy-1', 'TypeError', 4],
    ]);
    expect(run.deadLetters[1]).toMatchObject({
      pipeline: 'fragile',
      topic: 'in',
      partition: 0,
      message: 'unlucky',
    });
    expect(run.deadLetters[1]!.value!.toString()).toBe('{"n":13,"ts":2}');
  });

  it('sends records beyond the allowed lateness to dead letters with reason late', () => {
    const p = pipeline('late')
      .source<{ ts: number }>('in', { eventTime: (v) => v.ts })
      .keyBy(() => 'k')
      .window(tumbling(10), { allowedLateness: 5 })
      .aggregate({ n: count() })
      .toTopic('out');
    const run = runPipeline(p, [
      { value: { ts: 1 } },
      { value: { ts: 12 } },
      { value: { ts: 3 } },
      { value: { ts: 30 } },
      { value: { ts: 4 } },
    ]);
    expect(
      run.topics.out!.map((r) => [
        (r.value as { window: { start: number } }).window.start,
        (r.value as { kind: string }).kind,
        (r.value as { value: { n: number } }).value.n,
      ]),
    ).toEqual([
      [0, 'final', 1],
      [0, 'update', 2],
      [10, 'final', 1],
      [30, 'final', 1],
    ]);
    expect(run.deadLetters).toMatchObject([
      { reason: 'late', step: 'window-1', errorClass: 'LateRecordError', offset: 4, eventTime: 4 },
    ]);
  });

  it("holds the watermark at the slowest partition until it idles on the pipeline's clock", () => {
    const p = pipeline('idle')
      .source<{ ts: number }>('in', { eventTime: (v) => v.ts, idleAfter: '1m' })
      .keyBy(() => 'k')
      .window(session(10))
      .aggregate({ n: count() })
      .toTopic('out');
    const busyOnly = [
      { value: { ts: 0 }, partition: 0 },
      { value: { ts: 5 }, partition: 1 },
      { value: { ts: 100 }, partition: 0 },
      { value: { ts: 200 }, partition: 0 },
    ];
    expect(runPipeline(p, busyOnly, { endOfInput: false }).topics.out).toBeUndefined();
    const withIdle = runPipeline(
      p,
      [...busyOnly, { advanceClock: 60_000 }, { value: { ts: 300 }, partition: 0 }],
      {
        endOfInput: false,
      },
    );
    expect(withIdle.topics.out!.map((r) => (r.value as { window: unknown }).window)).toEqual([
      { start: 0, end: 15 },
      { start: 100, end: 110 },
      { start: 200, end: 210 },
    ]);
  });

  it('refuses two steps with one name', () => {
    expect(() =>
      pipeline('dup')
        .source('in')
        .map((v) => v, { name: 'same' })
        .map((v) => v, { name: 'same' }),
    ).toThrow(/two steps are named "same"/);
  });

  it('refuses a window fed by a window whose results are not final, instead of counting updates twice', () => {
    const perKey = (options: WindowOptions) =>
      pipeline('two-level')
        .source<Payment>('payments', { eventTime: (p) => p.ts })
        .keyBy((p) => p.merchantId)
        .window(tumbling('1m'), options)
        .aggregate({ total: sum((p: Payment) => p.amount) })
        .keyBy(() => 'all');
    expect(() =>
      perKey({ allowedLateness: '1m' })
        .window(tumbling('5m'))
        .aggregate({ sum: sum((w) => w.value.total) }),
    ).toThrow(/window step "window-1" has allowedLateness .* more than once/);
    expect(() =>
      perKey({ emit: { updates: '1s' } })
        .window(tumbling('5m'))
        .aggregate({ n: count() }),
    ).toThrow(/emit mode 'updates'/);
    // Final results only: each counted once, allowed.
    expect(() => perKey({}).window(tumbling('5m')).aggregate({ n: count() })).not.toThrow();
  });

  it('survives hostile records: huge values, garbage from user functions, times far off', () => {
    const p = pipeline('hostile')
      .source<{ k: string; ts: number; blob?: string; bad?: boolean }>('in', { eventTime: (v) => v.ts })
      .map((v) => {
        if (v.bad) {
          const loop: Record<string, unknown> = {};
          loop.self = loop;
          return loop as never;
        }
        return { k: v.k, ts: v.ts, size: v.blob?.length ?? 0 };
      })
      .toTopic('out');
    const run = runPipeline(p, [
      { value: { k: 'a', ts: 1, blob: 'x'.repeat(5_000_000) } },
      { value: { k: 'b', ts: 2, bad: true } },
      { value: { k: 'c', ts: -8.64e15 } },
      { value: { k: 'd', ts: 8.64e15 } },
      { value: { k: 'e', ts: 3 } },
    ]);
    // Stateless: times far in the past or future pass through; only the garbage is refused.
    expect(run.topics.out!.map((r) => (r.value as { k: string; size: number }).k)).toEqual([
      'a',
      'c',
      'd',
      'e',
    ]);
    expect((run.topics.out![0]!.value as { size: number }).size).toBe(5_000_000);
    // A circular object cannot be written: the sink step refuses it, by name.
    expect(run.deadLetters.map((d) => [d.reason, d.step, d.errorClass, d.offset])).toEqual([
      ['error', 'toTopic-1', 'TypeError', 1],
    ]);

    // In a window, a time far in the future moves the watermark: later records are late (and say so).
    const windowed = pipeline('far-future')
      .source<{ ts: number }>('in', { eventTime: (v) => v.ts })
      .keyBy(() => 'k')
      .window(tumbling(10))
      .aggregate({ n: count() })
      .toTopic('out');
    const far = runPipeline(windowed, [
      { value: { ts: 1 } },
      { value: { ts: 8.64e15 } },
      { value: { ts: 2 } },
    ]);
    expect(far.deadLetters.map((d) => [d.reason, d.offset, d.eventTime])).toEqual([['late', 2, 2]]);
    expect(far.deadLetters[0]!.message).toMatch(/behind the watermark/);
  });
});
