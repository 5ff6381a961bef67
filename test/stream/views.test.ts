import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/index.ts';
import { count, pipeline, runPipeline, session, sum, tumbling } from '../../src/stream/index.ts';

interface Click {
  user: string;
  ts: number;
}

describe('toView', () => {
  const clicks = () => pipeline('v').source<Click>('clicks', { eventTime: (c) => c.ts, maxOutOfOrder: 1000 });

  it('writes window results keyed by (key, window) to the view topic, with the columns the aggregates declare', () => {
    const p = clicks()
      .keyBy((c) => c.user)
      .window(tumbling(100))
      .aggregate({ n: count(), total: sum((c: Click) => c.ts) })
      .toView('clicks_per_user', { retention: '1h' });
    expect(p.steps.at(-1)).toMatchObject({
      kind: 'toView',
      view: 'clicks_per_user',
      topic: 'kappa-view-clicks_per_user',
      retentionMs: 3_600_000,
      columns: { n: 'integer', total: 'number' },
    });
    const run = runPipeline(p, [{ value: { user: 'a', ts: 10 } }, { value: { user: 'a', ts: 20 } }]);
    expect(run.topics['kappa-view-clicks_per_user']).toEqual([
      {
        key: ['a', 0, 100],
        value: { key: 'a', start: 0, end: 100, kind: 'final', value: { n: 2, total: 30 } },
      },
    ]);
  });

  it('deletes the rows of sessions a record merges, also those with only early results out', () => {
    const p = clicks()
      .keyBy((c) => c.user)
      .window(session(300), { emit: { updates: 0 } })
      .aggregate({ n: count() })
      .toView('journeys');
    const run = runPipeline(
      p,
      [0, 500, 250].map((ts) => ({ value: { user: 'u', ts } })),
      { endOfInput: false },
    );
    const records = run.topics['kappa-view-journeys']!.map((r) => [r.key, r.value === null ? null : 'row']);
    expect(records).toEqual([
      [['u', 0, 300], 'row'],
      [['u', 500, 800], 'row'],
      // The record at 250 bridges both sessions: their rows go, the merged one comes.
      [['u', 0, 300], null],
      [['u', 500, 800], null],
      [['u', 0, 800], 'row'],
    ]);
  });

  it('refuses what is not a window result, and names a view cannot have', () => {
    expect(() =>
      clicks()
        .map((c) => c as never)
        .toView('x'),
    ).toThrow(InvalidArgumentError);
    const windowed = () =>
      clicks()
        .keyBy((c) => c.user)
        .window(tumbling(100))
        .aggregate({ n: count() });
    for (const name of ['Upper', '1starts_with_digit', 'has-dash', 'a'.repeat(64), ''])
      expect(() => windowed().toView(name), name).toThrow(/Invalid view name/);
  });
});
