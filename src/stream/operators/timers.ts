/**
 * Event-time timers of a window operator: items due at a time, handed back a time at a time, earliest
 * first, once the watermark has passed it. Times are kept sorted by binary insertion: windows are
 * armed roughly in time order, so an insertion is nearly always at the end.
 */
export class Timers<T> {
  readonly #due = new Map<number, T[]>();
  #times: number[] = [];

  add(time: number, item: T): void {
    let due = this.#due.get(time);
    if (!due) {
      this.#due.set(time, (due = []));
      let lo = 0;
      let hi = this.#times.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#times[mid]! < time) lo = mid + 1;
        else hi = mid;
      }
      this.#times.splice(lo, 0, time);
    }
    due.push(item);
  }

  /** The items of the earliest time the watermark has passed (time − 1 ≤ watermark), removed; none: undefined. */
  next(watermark: number): T[] | undefined {
    if (this.#times.length === 0 || this.#times[0]! - 1 > watermark) return undefined;
    const time = this.#times.shift()!;
    const due = this.#due.get(time)!;
    this.#due.delete(time);
    return due;
  }

  /** The earliest time with items; none: +∞. */
  peek(): number {
    return this.#times[0] ?? Number.POSITIVE_INFINITY;
  }

  clear(): void {
    this.#due.clear();
    this.#times = [];
  }
}
