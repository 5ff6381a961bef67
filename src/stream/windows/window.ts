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
