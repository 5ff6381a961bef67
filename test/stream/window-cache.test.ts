import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
  combine,
  count,
  hopping,
  LmdbTaskState,
  type StateStore,
  session,
  sum,
  tumbling,
  type WindowAssigner,
  type WindowResult,
  windowSteps,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';

interface Event {
  key: number;
  ts: number;
  v: number;
}
type Out = WindowResult<number, { n: number; total: number }>;

const agg = combine({ n: count<Event>(), total: sum<Event>((e) => e.v) }) as Aggregator<
  Event,
  unknown,
  { n: number; total: number }
>;

/**
 * Many keys over a few windows, a bounded disorder plus a few records later than the watermark
 * (within the allowed lateness, so fired windows are updated), in commits of 50 records, each
 * flushed and committed to lmdb as the runtime does; a restart from the store halfway.
 */
async function run(
  dir: string,
  assigner: WindowAssigner,
  emit: 'final' | 'updates',
  seed: number,
  cacheBytes: number | undefined,
): Promise<{ out: Out[]; late: number; maxCached: number }> {
  const random = seededRandom(seed);
  const events: Event[] = [];
  for (let i = 0; i < 3000; i++) {
    const ts = i * 2 + Math.floor(random() * 40) - (random() < 0.02 ? 300 : 0);
    events.push({ key: Math.floor(random() * 400), ts, v: i });
  }
  let state = LmdbTaskState.open(path.join(dir, `${cacheBytes ?? 'all'}.mdb`));
  let store: StateStore = state.store('w');
  const make = () =>
    windowSteps<Event, number, unknown, { n: number; total: number }>({
      name: 'w',
      assigner,
      aggregator: agg,
      allowedLateness: 500,
      emit: emit === 'final' ? { mode: 'final' } : { mode: 'updates', interval: 0 },
      store,
      ...(cacheBytes === undefined ? {} : { cacheBytes }),
    });
  let op = make();
  const out: Out[] = [];
  let late = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let maxCached = 0;
  for (const [i, e] of events.entries()) {
    op.process(
      e,
      e.key,
      e.ts,
      watermark,
      (r) => out.push(r),
      () => late++,
    );
    max = Math.max(max, e.ts);
    if (max - 50 > watermark) {
      watermark = max - 50;
      op.onWatermark(watermark, (r) => out.push(r));
    }
    if (i % 50 === 49) {
      op.flush();
      maxCached = Math.max(maxCached, op.cachedWindows);
      await store.commit({ changelogOffset: i, inputOffset: i });
    }
    if (i === 1499) {
      await state.close();
      state = LmdbTaskState.open(path.join(dir, `${cacheBytes ?? 'all'}.mdb`));
      store = state.store('w');
      op = make();
      op.restored();
      maxCached = Math.max(maxCached, op.cachedWindows);
    }
  }
  op.onWatermark(Number.POSITIVE_INFINITY, (r) => out.push(r));
  await state.close();
  return { out, late, maxCached };
}

// Hopping windows with final results are computed by slices (SlicedWindowOperator), sessions by
// SessionWindowOperator, the others by WindowOperator.
const windows: Array<[string, WindowAssigner, 'final' | 'updates']> = [
  ['tumbling', tumbling(200), 'updates'],
  ['tumbling', tumbling(200), 'final'],
  ['hopping', hopping(300, 100), 'updates'],
  ['sliced hopping', hopping(300, 100), 'final'],
  ['session', session(300), 'updates'],
  ['session', session(300), 'final'],
];

describe('window cache budget', () => {
  const temp = useTempDir('each');
  for (const [label, assigner, emit] of windows)
    it(`keeps ${label} windows (emit ${emit}) within the budget and emits exactly what an unbounded operator emits`, async () => {
      const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
      console.log(`window cache ${label}: seed ${seed}`);
      const unbounded = await run(temp.dir, assigner, emit, seed, undefined);
      // A few dozen windows' worth: most of the 400 keys' open windows live only in lmdb.
      const bounded = await run(temp.dir, assigner, emit, seed, 20_000);
      console.log(
        `window cache ${label}: at most ${unbounded.maxCached} windows in memory unbounded, ${bounded.maxCached} with the budget`,
      );
      expect(unbounded.maxCached).toBeGreaterThan(250);
      expect(bounded.maxCached).toBeLessThan(120);
      expect(bounded.late).toBe(unbounded.late);
      expect(bounded.out.length).toBeGreaterThan(500);
      expect(bounded.out).toEqual(unbounded.out);
    });
});
