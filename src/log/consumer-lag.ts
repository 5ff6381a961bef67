import type { PartitionRange } from './bus.ts';
import type { BusScan } from './bus-scan.ts';

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

/** Records between a committed offset and a partition's end that the log still holds. */
export function lagOf(committed: number, range: PartitionRange): number {
  return Math.max(0, range.end - Math.max(committed, range.start));
}

/**
 * A group's lag on every partition it has committed offsets in, from the bus as it is now (as
 * Burrow or kafka-exporter read Kafka), so a group that stopped polling still shows its lag growing.
 */
export async function groupLag(scan: BusScan, group: string): Promise<PartitionLag[]> {
  const out: PartitionLag[] = [];
  for (const c of await scan.bus.committedOffsets(group)) {
    const range = (await scan.ranges(c.topic)).find((r) => r.partition === c.partition);
    if (range === undefined) continue;
    out.push({
      group,
      topic: c.topic,
      partition: c.partition,
      committed: c.offset,
      end: range.end,
      lag: lagOf(c.offset, range),
    });
  }
  return out;
}

/** Every group's lag (see groupLag). */
export async function consumerLag(scan: BusScan): Promise<PartitionLag[]> {
  const out: PartitionLag[] = [];
  for (const group of await scan.bus.listGroups()) out.push(...(await groupLag(scan, group)));
  return out;
}
