import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IntervalJoinOperator,
  type Joined,
  LmdbTaskState,
  type Operator,
  type OperatorContext,
  type StateStore,
  tumbling,
  WindowJoinOperator,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';
import { useTempDir } from '../support/temp-dir.ts';

/**
 * Two sides over 300 keys, a bounded disorder, in commits of 50 elements, each checkpointed and
 * committed to lmdb as the runtime does; a restart from the store halfway.
 */
type JoinOperator = Operator<Joined> & { readonly cachedElements: number };

async function run(
  file: string,
  join: (store: StateStore, cacheBytes: number | undefined) => JoinOperator,
  seed: number,
  cacheBytes: number | undefined,
): Promise<{ out: Joined[]; late: number; maxCached: number }> {
  const random = seededRandom(seed);
  let state = LmdbTaskState.open(file);
  let store: StateStore = state.store('j');
  const make = () => join(store, cacheBytes);
  let op = make();
  const out: Joined[] = [];
  let late = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let maxCached = 0;
  const ctx: OperatorContext<Joined> = {
    get watermark() {
      return watermark;
    },
    emit: (j) => out.push(j),
    late: () => late++,
  };
  for (let i = 0; i < 3000; i++) {
    const t = i * 2 + Math.floor(random() * 40);
    const key = Math.floor(random() * 300);
    op.process({ side: random() < 0.5 ? 0 : 1, key, eventTime: t, value: i, now: 0 }, ctx);
    max = Math.max(max, t);
    if (max - 50 > watermark) {
      watermark = max - 50;
      op.onWatermark!(watermark, ctx);
    }
    if (i % 50 === 49) {
      op.onCheckpoint!();
      maxCached = Math.max(maxCached, op.cachedElements);
      await store.commit({ changelogOffset: i, inputOffset: i });
    }
    if (i === 1499) {
      await state.close();
      state = LmdbTaskState.open(file);
      store = state.store('j');
      op = make();
      for (const _ of op.loading!());
    }
  }
  op.onWatermark!(Number.POSITIVE_INFINITY, ctx);
  await state.close();
  return { out, late, maxCached };
}

const budget = (cacheBytes: number | undefined) => (cacheBytes === undefined ? {} : { cacheBytes });
const interval =
  (lower: number, upper: number) =>
  (store: StateStore, cacheBytes: number | undefined): JoinOperator =>
    new IntervalJoinOperator({ lower, upper, join: (l, r) => [l, r], store, ...budget(cacheBytes) });

describe('join cache budget', () => {
  const temp = useTempDir('each');
  const cases: Array<[string, (store: StateStore, cacheBytes: number | undefined) => JoinOperator, number]> =
    [
      ['an interval join', interval(-300, 300), 150],
      // Keeps every element it saw: without a budget, all of them are in memory.
      [
        'a regular join (both bounds unbounded)',
        interval(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY),
        1000,
      ],
      [
        'a window join',
        (store, cacheBytes) =>
          new WindowJoinOperator({
            assigner: tumbling(1000),
            join: (l, r) => [l, r],
            store,
            ...budget(cacheBytes),
          }),
        150,
      ],
    ];
  for (const [label, join, unboundedAtLeast] of cases)
    it(`keeps ${label} within the budget and emits exactly what an unbounded one emits`, async () => {
      const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
      console.log(`join cache, ${label}: seed ${seed}`);
      const unbounded = await run(path.join(temp.dir, 'all.mdb'), join, seed, undefined);
      const bounded = await run(path.join(temp.dir, 'bounded.mdb'), join, seed, 20_000);
      console.log(
        `join cache, ${label}: at most ${unbounded.maxCached} elements in memory unbounded, ${bounded.maxCached} with the budget`,
      );
      expect(unbounded.maxCached).toBeGreaterThan(unboundedAtLeast);
      expect(bounded.maxCached).toBeLessThan(80);
      expect(bounded.late).toBe(unbounded.late);
      expect(bounded.out.length).toBeGreaterThan(500);
      expect(bounded.out).toEqual(unbounded.out);
    });
});
