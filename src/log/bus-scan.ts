import type { Bus, PartitionRange } from './bus.ts';

/**
 * One look at the bus for a status screen or a metrics scrape: the topic list and each topic's
 * partition ranges read at most once, however many readers ask. A topic gone meanwhile has none.
 */
export class BusScan {
  readonly bus: Bus;
  #topics: Promise<string[]> | null = null;
  readonly #ranges = new Map<string, Promise<PartitionRange[]>>();

  constructor(bus: Bus) {
    this.bus = bus;
  }

  /** Every topic, Kappa's own included. */
  topics(): Promise<string[]> {
    this.#topics ??= this.bus.listTopics({ includeInternal: true });
    return this.#topics;
  }

  ranges(topic: string): Promise<PartitionRange[]> {
    let ranges = this.#ranges.get(topic);
    if (ranges === undefined)
      this.#ranges.set(topic, (ranges = this.bus.partitionOffsets(topic).catch(() => [])));
    return ranges;
  }
}

/** The records of partition ranges: what a topic holds now. */
export function heldRecords(ranges: readonly PartitionRange[]): number {
  return ranges.reduce((n, r) => n + r.end - r.start, 0);
}
