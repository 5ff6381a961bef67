import { type Duration, toMillis } from '../../core/index.ts';

/** No watermark yet: nothing has been seen. */
export const NO_WATERMARK = Number.NEGATIVE_INFINITY;

/**
 * How a source turns event times into watermarks, after Flink's WatermarkStrategy: bounded
 * out-of-orderness (the watermark trails the largest event time seen by `maxOutOfOrder`), with
 * idleness (a partition silent for `idleAfter` of processing time stops holding the watermark back).
 */
export interface WatermarkStrategy {
  maxOutOfOrder: number;
  /** Processing-time ms after which a silent partition no longer holds the task's watermark back; null: never. */
  idleAfter: number | null;
}

export function boundedOutOfOrderness(
  maxOutOfOrder: Duration,
  options: { idleAfter?: Duration } = {},
): WatermarkStrategy {
  return {
    maxOutOfOrder: toMillis(maxOutOfOrder),
    idleAfter: options.idleAfter === undefined ? null : toMillis(options.idleAfter),
  };
}

interface PartitionState {
  maxEventTime: number;
  lastActivity: number;
  idle: boolean;
}

/**
 * A task's watermark over its source partitions: each partition's is (max event time seen −
 * maxOutOfOrder − 1, so a record exactly maxOutOfOrder behind is still on time), the task's is the
 * minimum over partitions that are not idle, and it never goes back. A partition that has seen
 * nothing holds the task's watermark at "none" until it sees a record or goes idle.
 */
export class WatermarkTracker {
  readonly #strategy: WatermarkStrategy;
  readonly #partitions = new Map<number, PartitionState>();
  #current = NO_WATERMARK;

  constructor(strategy: WatermarkStrategy, partitions: Iterable<number>, now: number) {
    this.#strategy = strategy;
    for (const p of partitions)
      this.#partitions.set(p, { maxEventTime: NO_WATERMARK, lastActivity: now, idle: false });
  }

  /** The task's watermark now. */
  get current(): number {
    return this.#current;
  }

  /** Every partition is idle: downstream tasks should not wait for this one. */
  get idle(): boolean {
    for (const state of this.#partitions.values()) if (!state.idle) return false;
    return this.#partitions.size > 0;
  }

  /** Records an event time seen on a partition (at processing time `now`); returns the task's watermark. */
  observe(partition: number, eventTime: number, now: number): number {
    let state = this.#partitions.get(partition);
    if (!state) {
      state = { maxEventTime: NO_WATERMARK, lastActivity: now, idle: false };
      this.#partitions.set(partition, state);
    }
    if (eventTime > state.maxEventTime) state.maxEventTime = eventTime;
    state.lastActivity = now;
    state.idle = false;
    return this.#advance();
  }

  /** Marks partitions silent for longer than idleAfter as idle; returns the task's watermark. */
  tick(now: number): number {
    const idleAfter = this.#strategy.idleAfter;
    if (idleAfter !== null)
      for (const state of this.#partitions.values())
        if (now - state.lastActivity >= idleAfter) state.idle = true;
    return this.#advance();
  }

  /** The partition's own watermark. */
  of(partition: number): number {
    const state = this.#partitions.get(partition);
    return state ? this.#partitionWatermark(state) : NO_WATERMARK;
  }

  #partitionWatermark(state: PartitionState): number {
    return state.maxEventTime === NO_WATERMARK
      ? NO_WATERMARK
      : state.maxEventTime - this.#strategy.maxOutOfOrder - 1;
  }

  #advance(): number {
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const state of this.#partitions.values()) {
      if (state.idle) continue;
      active++;
      min = Math.min(min, this.#partitionWatermark(state));
    }
    // All idle: the largest watermark any partition reached stands.
    if (active === 0) {
      min = NO_WATERMARK;
      for (const state of this.#partitions.values()) min = Math.max(min, this.#partitionWatermark(state));
    }
    if (min > this.#current) this.#current = min;
    return this.#current;
  }

  /** For checkpoints: what the tracker knows. */
  snapshot(): Array<[partition: number, maxEventTime: number]> {
    return [...this.#partitions].map(([p, s]) => [p, s.maxEventTime]);
  }

  restore(snapshot: Array<[number, number]>, now: number): void {
    for (const [p, maxEventTime] of snapshot)
      this.#partitions.set(p, { maxEventTime, lastActivity: now, idle: false });
    this.#advance();
  }
}
