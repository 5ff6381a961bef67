import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
  combine,
  count,
  hopping,
  MemoryStateStore,
  max,
  SlicedWindowOperator,
  sum,
  WindowOperator,
  type WindowResult,
  type WindowSteps,
} from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';

interface Event {
  key: string;
  ts: number;
  v: number;
}
type Row = { n: number; total: number; top: number | null };

const aggregator = combine({
  n: count<Event>(),
  total: sum<Event>((e) => e.v),
  top: max<Event>((e) => e.v),
}) as Aggregator<Event, unknown, Row>;

/**
 * Hopping windows by slices must give exactly what the window-by-window operator gives: the same
 * final results, the same late updates (and `final` for a key's first result in a window that has
 * fired), the same late records — also when the operator is flushed and restored from its store at
 * random points. Random events, some far later than the watermark allows.
 */
describe('hopping windows by slices', () => {
  it('equal window-by-window results, with lateness and restores (150 seeds)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const random = seededRandom(seed);
      const slide = [5, 10, 20][Math.floor(random() * 3)]!;
      const assigner = hopping(slide * (1 + Math.floor(random() * 5)), slide);
      const allowedLateness = random() < 0.5 ? 0 : Math.floor(random() * 60);
      const bound = 20;
      let t = 0;
      const events: Event[] = Array.from({ length: 40 + Math.floor(random() * 80) }, () => {
        t += Math.floor(random() * 8);
        // One in eight comes up to 4× the bound late.
        const delay = random() < 0.125 ? Math.floor(random() * bound * 4) : Math.floor(random() * bound);
        return {
          key: `k${Math.floor(random() * 4)}`,
          ts: Math.max(0, t - delay),
          v: Math.floor(random() * 50),
        };
      });
      const restoreAt = new Set(events.map((_, i) => i).filter(() => random() < 0.1));
      const reference = drive(
        () => new WindowOperator({ ...options(assigner, allowedLateness) }),
        events,
        bound,
        new Set(),
      );
      const sliced = drive(
        (store) => new SlicedWindowOperator({ ...options(assigner, allowedLateness, store), assigner }),
        events,
        bound,
        restoreAt,
      );
      expect({ seed, ...sliced }).toEqual({ seed, ...reference });
    }
  });
});

function options(
  assigner: ReturnType<typeof hopping>,
  allowedLateness: number,
  store = new MemoryStateStore(),
) {
  return { name: 'w', assigner, aggregator, allowedLateness, emit: { mode: 'final' as const }, store };
}

/** Feeds events as a task does: each with the step's watermark, then the watermark moves on. */
function drive(
  make: (store: MemoryStateStore) => WindowSteps<Event, string, Row>,
  events: Event[],
  bound: number,
  restoreAt: Set<number>,
): { results: string[]; late: number[] } {
  const results: string[] = [];
  const late: number[] = [];
  const out = (r: WindowResult<string, Row>) =>
    results.push(JSON.stringify([r.kind, r.key, r.window.start, r.window.end, r.value]));
  let store = new MemoryStateStore();
  let op = make(store);
  let watermark = Number.NEGATIVE_INFINITY;
  let maxSeen = Number.NEGATIVE_INFINITY;
  events.forEach((e, i) => {
    if (restoreAt.has(i)) {
      op.flush();
      store = MemoryStateStore.copyOf(store);
      op = make(store);
      op.restored();
    }
    op.process(e, e.key, e.ts, watermark, out, (l) => late.push(l.record.ts));
    maxSeen = Math.max(maxSeen, e.ts);
    if (maxSeen - bound - 1 > watermark) {
      watermark = maxSeen - bound - 1;
      op.onWatermark(watermark, out);
    }
  });
  op.onWatermark(Number.POSITIVE_INFINITY, out);
  return { results: results.sort(), late };
}
