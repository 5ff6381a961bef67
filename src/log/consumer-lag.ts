import type { Bus, PartitionRange } from './bus.ts';

/** How far a group's committed offset is behind the end of one partition. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** The group's committed offset (the next it will read). */
  committed: number;
  /** The partition's end (the next offset to be written, as read_committed readers see it). */
  end: number;
  /** Records between them that the log still holds. */
  lag: number;
}

/**
 * Every group's lag on every partition it has committed offsets in, from the bus as it is now (as
 * Burrow or kafka-exporter read Kafka), so a group that stopped polling still shows its lag growing.
 * `ranges` is shared by the caller's other reads of the same scan.
 */
export async function consumerLag(
  bus: Bus,
  ranges: Map<string, Promise<PartitionRange[]>> = new Map(),
): Promise<PartitionLag[]> {
  const rangesOf = (topic: string) => {
    let r = ranges.get(topic);
    if (r === undefined) ranges.set(topic, (r = bus.partitionOffsets(topic)));
    return r;
  };
  const out: PartitionLag[] = [];
  for (const group of await bus.listGroups()) {
    for (const c of await bus.committedOffsets(group)) {
      const range = (await rangesOf(c.topic).catch(() => [])).find((r) => r.partition === c.partition);
      if (range === undefined) continue;
      const lag = Math.max(0, range.end - Math.max(c.offset, range.start));
      out.push({ group, topic: c.topic, partition: c.partition, committed: c.offset, end: range.end, lag });
    }
  }
  return out;
}
