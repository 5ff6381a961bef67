import { approxCountDistinct, percentile, pipeline, topN, tumbling } from '../../../src/stream/index.ts';
import type { E } from '../scenario-events.ts';

export default pipeline('sketch-aggregates')
  .source<E>('in', { eventTime: (e) => e.ts })
  .keyBy((e) => e.k)
  .window(tumbling(100))
  .aggregate({
    median: percentile((e) => e.v, 0.5),
    users: approxCountDistinct((e) => e.v % 4),
    top: topN(
      2,
      (e) => e.v,
      (e) => e.v,
    ),
  })
  // The sketch is within 1%: to the nearest 10 it is exact here.
  .map((w) => ({
    key: w.key,
    start: w.window.start,
    median: Math.round((w.value.median ?? 0) / 10) * 10,
    users: w.value.users,
    top: w.value.top,
  }))
  .toTopic('out');
