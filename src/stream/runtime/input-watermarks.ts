import { decodeState, encodeState, stateKey } from '../state/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';
import type { UpstreamWatermarks } from '../time/upstream-watermarks.ts';
import { NO_WATERMARK, type WatermarkTracker } from '../time/watermarks.ts';

/** What a task keeps of its input's watermarks, in its first stateful step's store. */
interface Stored {
  /** What the source partitions' watermarks have seen (a stage reading the source). */
  partitions?: Array<[number, number]>;
  /** The same for the other sources of a whole pipeline that joins several. */
  others?: Array<Array<[number, number]>>;
  /** What the upstream tasks have said (a stage reading a repartition topic). */
  upstreams?: ReturnType<UpstreamWatermarks['snapshot']>;
}

const KEY = stateKey([0, 'input-watermarks']);

/**
 * A task's input watermark: from its sources' partitions (a tracker per source, more than one when
 * a whole pipeline joins several), or from the upstream tasks of the repartition topic it reads;
 * and how it is kept in the task's store, so a restored task resumes where the watermark was.
 */
export class InputWatermarks {
  readonly trackers: readonly WatermarkTracker[];
  readonly upstream: UpstreamWatermarks | null;
  /** What the store holds, as JSON. */
  #stored = '';

  constructor(input: WatermarkTracker[] | UpstreamWatermarks) {
    this.trackers = Array.isArray(input) ? input : [];
    this.upstream = Array.isArray(input) ? null : input;
  }

  /**
   * Over every source: the least of those not idle (the least of all until each has seen a record,
   * so a join waits for both sides), or the greatest once all are idle.
   */
  get current(): number {
    if (this.upstream !== null) return this.upstream.current;
    if (this.trackers.length === 1) return this.trackers[0]!.current;
    let min = Number.POSITIVE_INFINITY;
    let max = NO_WATERMARK;
    for (const tracker of this.trackers) {
      max = Math.max(max, tracker.current);
      if (!tracker.idle) min = Math.min(min, tracker.current);
    }
    return min === Number.POSITIVE_INFINITY ? max : min;
  }

  /** Every source partition has gone idle (stages that read sources). */
  get idle(): boolean {
    return this.trackers.length > 0 && this.trackers.every((t) => t.idle);
  }

  /** Processing time moved on: silent partitions may go idle. */
  tick(now: number): number {
    for (const tracker of this.trackers) tracker.tick(now);
    return this.current;
  }

  /** Writes the watermarks into `store` as a pending write, if they changed since they were last written. */
  save(store: StateStore): void {
    const [main, ...others] = this.trackers.map((t) => t.snapshot());
    const stored: Stored =
      this.upstream === null
        ? { partitions: main ?? [], ...(others.length > 0 ? { others } : {}) }
        : { upstreams: this.upstream.snapshot() };
    const json = JSON.stringify(stored);
    if (json === this.#stored) return;
    store.put(KEY, encodeState(stored));
    this.#stored = json;
  }

  /** Where the watermarks were at the last commit `store` holds. */
  load(store: StateStore, now: number): void {
    const bytes = store.get(KEY);
    if (bytes === undefined) return;
    const stored = decodeState<Stored>(bytes);
    this.#stored = JSON.stringify(stored);
    if (stored.partitions) this.trackers[0]?.restore(stored.partitions, now);
    for (const [i, snapshot] of (stored.others ?? []).entries()) this.trackers[i + 1]?.restore(snapshot, now);
    if (stored.upstreams) this.upstream?.restore(stored.upstreams);
  }
}
