import { type Duration, InvalidArgumentError, toMillis } from '../../core/index.ts';
import { earliestHolding, type Window, windowStart } from './window.ts';

/**
 * Maps an event time to the windows it belongs to, as Flink's WindowAssigner does. Assigners keep no
 * state: merging of session windows happens in the window operator, which asks `mergesWith`.
 */
export type WindowAssigner = TumblingWindows | HoppingWindows | SessionWindows;

export interface TumblingWindows {
  kind: 'tumbling';
  size: number;
  offset: number;
  assign(ts: number): Window[];
}

export interface HoppingWindows {
  kind: 'hopping';
  size: number;
  slide: number;
  offset: number;
  assign(ts: number): Window[];
}

export interface SessionWindows {
  kind: 'session';
  gap: number;
  /** A record's own window, [ts, ts + gap); overlapping ones merge into one session. */
  assign(ts: number): Window[];
}

/** Fixed, back-to-back windows of `size`, aligned to the epoch (shifted by `offset`). */
export function tumbling(size: Duration, options: { offset?: Duration } = {}): TumblingWindows {
  const s = positive(size, 'tumbling window size');
  const offset = toMillis(options.offset ?? 0) % s;
  return {
    kind: 'tumbling',
    size: s,
    offset,
    assign: (ts) => {
      const start = windowStart(ts, offset, s);
      return [{ start, end: start + s }];
    },
  };
}

/** Windows of `size` starting every `slide`: a record belongs to size/slide of them. */
export function hopping(
  size: Duration,
  slide: Duration,
  options: { offset?: Duration } = {},
): HoppingWindows {
  const s = positive(size, 'hopping window size');
  const h = positive(slide, 'hopping window slide');
  if (h > s)
    throw new InvalidArgumentError(`A hopping window's slide (${h} ms) cannot exceed its size (${s} ms)`);
  const offset = toMillis(options.offset ?? 0) % h;
  return {
    kind: 'hopping',
    size: s,
    slide: h,
    offset,
    assign: (ts) => {
      const out: Window[] = [];
      // Oldest first, as the windows then fire in order of their ends.
      for (let start = earliestHolding(windowStart(ts, offset, h), s, h); start <= ts; start += h)
        if (start + s > ts) out.push({ start, end: start + s });
      return out;
    },
  };
}

/** Activity sessions: a session closes after `gap` without records for its key. */
export function session(gap: Duration): SessionWindows {
  const g = positive(gap, 'session gap');
  return { kind: 'session', gap: g, assign: (ts) => [{ start: ts, end: ts + g }] };
}

function positive(d: Duration, what: string): number {
  const ms = toMillis(d);
  if (ms <= 0) throw new InvalidArgumentError(`The ${what} must be longer than 0 ms`);
  return ms;
}
