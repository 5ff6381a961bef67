/** A half-open span of event time, [start, end), in epoch milliseconds. */
export interface Window {
  start: number;
  end: number;
}

export function windowKey(w: Window): string {
  return `${w.start}:${w.end}`;
}

/** The last event time a window holds; the window fires when the watermark passes it. */
export function maxTimestamp(w: Window): number {
  return w.end - 1;
}

/**
 * The start of the window of `size` (aligned to `offset`) holding `ts`, also for times before 1970.
 * A division and a floor, not `%`: this is on every record's path, and a float modulo is slower.
 */
export function windowStart(ts: number, offset: number, size: number): number {
  return Math.floor((ts - offset) / size) * size + offset;
}

/**
 * Hopping-window arithmetic, in one place (tumbling windows are hopping ones with slide = size):
 * the windows of `size` starting every `slide` that hold the slide-long span starting at `latest`
 * (itself `windowStart(ts, offset, slide)` for an instant ts) start from this one to `latest`.
 */
export function earliestHolding(latest: number, size: number, slide: number): number {
  return latest - size + slide;
}
