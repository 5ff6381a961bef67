import { describe, expect, it } from 'vitest';
import {
  hopping,
  type Pipeline,
  pipeline,
  runPipeline,
  type SignedDuration,
  session,
  type TestInput,
  tumbling,
  type Window,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

interface Click {
  user: string;
  ts: number;
  n: number;
}
interface View {
  user: string;
  ts: number;
  page: string;
}

/** Clicks and views of a few users, each topic in time order up to `disorder` ms, over two partitions. */
function events(
  seed: number,
  count: number,
  disorder: number,
): { inputs: TestInput[]; clicks: Click[]; views: View[] } {
  const random = seededRandom(seed);
  const clicks: Click[] = [];
  const views: View[] = [];
  const inputs: TestInput[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += Math.floor(random() * 40);
    const ts = Math.max(0, t - Math.floor(random() * disorder));
    const user = `u${Math.floor(random() * 5)}`;
    const partition = Math.floor(random() * 2);
    if (random() < 0.5) {
      const click = { user, ts, n: i };
      clicks.push(click);
      inputs.push({ topic: 'clicks', value: click, partition });
    } else {
      const view = { user, ts, page: `p${i}` };
      views.push(view);
      inputs.push({ topic: 'views', value: view, partition });
    }
  }
  return { inputs, clicks, views };
}

/** Clicks and views of one pipeline, each keyed by user. */
function keyedSources(name: string, disorder: number) {
  const p = pipeline(name);
  const options = { maxOutOfOrder: disorder, idleAfter: 'never' } as const;
  return {
    views: p.source<View>('views', { eventTime: (v) => v.ts, ...options }).keyBy((v) => v.user),
    clicks: p.source<Click>('clicks', { eventTime: (c) => c.ts, ...options }).keyBy((c) => c.user),
  };
}

function intervalJoined(lower: SignedDuration, upper: SignedDuration, disorder: number): Pipeline {
  const { clicks, views } = keyedSources('joined', disorder);
  return clicks
    .intervalJoin(views, { lower, upper }, (c, v) => ({ user: c.user, click: c.n, page: v.page }))
    .toTopic('out');
}

const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
const values = (run: ReturnType<typeof runPipeline>) => (run.topics.out ?? []).map((r) => r.value);

describe('interval join', () => {
  const cases: Array<[SignedDuration, SignedDuration, number, number]> = [
    ['-100ms', '0ms', 0, 0],
    ['-100ms', '50ms', 30, 0],
    ['20ms', '200ms', 60, 200],
    ['-300ms', '-50ms', 10, 1],
    ['unbounded', '0ms', 25, 0],
    ['unbounded', 'unbounded', 50, 0],
  ];
  for (const [lower, upper, disorder, extraOoo] of cases)
    it(`pairs every click with the views of its user in [${lower}, ${upper}] (disorder ${disorder} ms)`, () => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      console.log(`interval join [${lower}, ${upper}] seed ${seed}`);
      const { inputs, clicks, views } = events(seed, 600, disorder);
      const run = runPipeline(intervalJoined(lower, upper, disorder + extraOoo), inputs);
      expect(run.deadLetters).toEqual([]);
      const ms = (d: SignedDuration, unbounded: number) =>
        d === 'unbounded' ? unbounded : Number.parseInt(String(d), 10);
      const lo = ms(lower, Number.NEGATIVE_INFINITY);
      const hi = ms(upper, Number.POSITIVE_INFINITY);
      const expected = clicks.flatMap((c) =>
        views
          .filter((v) => v.user === c.user && v.ts >= c.ts + lo && v.ts <= c.ts + hi)
          .map((v) => ({ user: c.user, click: c.n, page: v.page })),
      );
      expect(expected.length).toBeGreaterThan(10);
      expect(sorted(values(run))).toEqual(sorted(expected));
    });

  it('includes both bounds, and keeps an element exactly until the watermark reaches its last partner', () => {
    const p = intervalJoined('-100ms', '0ms', 0);
    const click = (user: string, ts: number) => ({ topic: 'clicks', value: { user, ts, n: ts } });
    const view = (user: string, ts: number) => ({
      topic: 'views',
      value: { user, ts, page: `${user}@${ts}` },
    });
    const run = runPipeline(p, [
      click('a', 1000),
      click('b', 2000),
      // The views hold the watermark back: 998, then 999 (click a@1000 still waits), then 1000 (it goes).
      view('a', 999),
      view('y', 1000),
      view('a', 1000),
      view('a', 1001),
      // 1099: view x@1100 waits until 1200 for its clicks.
      view('x', 1100),
      click('x', 1200),
    ]);
    expect(run.deadLetters).toEqual([]);
    expect(values(run)).toEqual([
      { user: 'a', click: 1000, page: 'a@999' },
      { user: 'a', click: 1000, page: 'a@1000' },
      { user: 'x', click: 1200, page: 'x@1100' },
    ]);
  });

  it('emits the same pairs when the task restarts from its stores at any point', () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    console.log(`interval join restore seed ${seed}`);
    const { inputs } = events(seed, 400, 20);
    const p = intervalJoined('-100ms', '100ms', 20);
    const straight = sorted(values(runPipeline(p, inputs)));
    for (const at of [1, 57, 200, 399])
      expect(sorted(values(runPipeline(p, inputs, { restoreAt: at })))).toEqual(straight);
  });

  it('sends an element behind the watermark to the dead letters as late, and keeps what it holds', () => {
    const p = intervalJoined('-100ms', '0ms', 0);
    const run = runPipeline(p, [
      { topic: 'views', value: { user: 'a', ts: 1000, page: 'x' } },
      { topic: 'clicks', value: { user: 'a', ts: 1050, n: 1 } },
      // Both sides are past 1050 now: a click at 500 could have missed views already dropped.
      { topic: 'views', value: { user: 'b', ts: 2000, page: 'y' } },
      { topic: 'clicks', value: { user: 'b', ts: 2000, n: 2 } },
      { topic: 'clicks', value: { user: 'a', ts: 500, n: 3 } },
      { topic: 'clicks', value: { user: 'b', ts: 2060, n: 4 } },
    ]);
    expect(values(run)).toEqual([
      { user: 'a', click: 1, page: 'x' },
      { user: 'b', click: 2, page: 'y' },
      { user: 'b', click: 4, page: 'y' },
    ]);
    expect(run.deadLetters.map((l) => [l.reason, l.step, l.offset])).toEqual([['late', 'intervalJoin-1', 2]]);
  });

  it('makes a pair whose join function throws a dead letter of its own; the elements go on pairing', () => {
    const p = pipeline('throws');
    const views = p
      .source<View>('views', { eventTime: (v) => v.ts, idleAfter: 'never' })
      .keyBy((v) => v.user);
    const joined = p
      .source<Click>('clicks', { eventTime: (c) => c.ts, idleAfter: 'never' })
      .keyBy((c) => c.user)
      .intervalJoin(views, { lower: '-1s', upper: '1s' }, (c, v) => {
        if (v.page === 'bad') throw new Error('bad page');
        return `${c.n}:${v.page}`;
      })
      .toTopic('out');
    const run = runPipeline(joined, [
      { topic: 'clicks', value: { user: 'a', ts: 100, n: 1 } },
      { topic: 'views', value: { user: 'a', ts: 110, page: 'bad' } },
      { topic: 'views', value: { user: 'a', ts: 120, page: 'good' } },
      { topic: 'clicks', value: { user: 'a', ts: 130, n: 2 } },
    ]);
    expect(values(run)).toEqual(['1:good', '2:good']);
    expect(run.deadLetters.map((l) => [l.kind, l.step, l.message])).toEqual([
      ['result', 'intervalJoin-1', 'bad page'],
      ['result', 'intervalJoin-1', 'bad page'],
    ]);
  });

  it('is refused at build time for what it cannot do', () => {
    const p = pipeline('bad');
    const a = p.source<Click>('clicks', { eventTime: (c) => c.ts }).keyBy((c) => c.user);
    const b = p.source<View>('views', { eventTime: (v) => v.ts }).keyBy((v) => v.user);
    expect(() => a.intervalJoin(b, { lower: '1s', upper: '-1s' }, () => 0)).toThrow(/lower bound/);
    const other = pipeline('other')
      .source<View>('views')
      .keyBy((v) => v.user);
    expect(() => a.intervalJoin(other, { lower: '-1s', upper: '0s' }, () => 0)).toThrow(/same pipeline/);
    const timed = p.source<View>('views', { eventTime: 'processing', name: 'timed' }).keyBy((v) => v.user);
    expect(() => a.intervalJoin(timed, { lower: '-1s', upper: '0s' }, () => 0)).toThrow(/event time/);
    a.intervalJoin(b, { lower: '-1s', upper: '0s' }, () => 0);
    const c = p.source<Click>('clicks', { name: 'again' }).keyBy((x) => x.user);
    expect(() => c.intervalJoin(b, { lower: '-1s', upper: '0s' }, () => 0)).toThrow(/already joined/);
  });
});

describe('window join', () => {
  function windowJoined(
    assigner: ReturnType<typeof tumbling> | ReturnType<typeof hopping>,
    disorder: number,
  ) {
    const { clicks, views } = keyedSources('wj', disorder);
    return clicks
      .windowJoin(views, assigner, (c, v, w: Window) => ({ click: c.n, page: v.page, start: w.start }))
      .toTopic('out');
  }

  for (const [label, assigner, size, slide] of [
    ['tumbling 200 ms', tumbling(200), 200, 200],
    ['hopping 300 ms by 100 ms', hopping(300, 100), 300, 100],
  ] as const)
    it(`pairs the clicks and views of a user in each ${label} window`, () => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      console.log(`window join ${label} seed ${seed}`);
      const { inputs, clicks, views } = events(seed, 500, 30);
      const run = runPipeline(windowJoined(assigner, 30), inputs);
      expect(run.deadLetters).toEqual([]);
      const starts = (ts: number) => {
        const out: number[] = [];
        for (let s = Math.floor(ts / slide) * slide; s > ts - size; s -= slide) out.push(s);
        return out;
      };
      const expected = clicks.flatMap((c) =>
        views.flatMap((v) =>
          v.user !== c.user
            ? []
            : starts(c.ts)
                .filter((s) => starts(v.ts).includes(s))
                .map((start) => ({ click: c.n, page: v.page, start })),
        ),
      );
      expect(expected.length).toBeGreaterThan(10);
      expect(sorted(values(run))).toEqual(sorted(expected));
      // A restart anywhere gives the same pairs in the same order per window.
      expect(values(runPipeline(windowJoined(assigner, 30), inputs, { restoreAt: 250 }))).toEqual(
        values(run),
      );
    });

  it('refuses session windows', () => {
    const p = pipeline('s');
    const a = p.source<Click>('clicks').keyBy((c) => c.user);
    const b = p.source<View>('views').keyBy((v) => v.user);
    expect(() => a.windowJoin(b, session('1s') as never, () => 0)).toThrow(/tumbling or hopping/);
  });
});
