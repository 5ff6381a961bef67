import type { PartitionLog } from './partition-log.ts';

/**
 * Deletes whole segments from the front of the log: those whose newest record is older than the
 * retention time, then the oldest while the rest still holds at least the retention size. The active
 * segment is never deleted. Returns the number of segments deleted.
 */
export async function applyRetention(log: PartitionLog, now: number): Promise<number> {
  const { retentionMs, retentionBytes } = log.config;
  if (retentionMs === null && retentionBytes === null) return 0;
  const segments = log.segments;
  const closed = segments.length - 1;
  let k = 0;
  if (retentionMs !== null) {
    while (k < closed && segments[k]!.maxTimestamp < now - retentionMs) k++;
  }
  if (retentionBytes !== null) {
    let size = 0;
    for (let i = k; i < segments.length; i++) size += segments[i]!.size;
    while (k < closed && size - segments[k]!.size >= retentionBytes) {
      size -= segments[k]!.size;
      k++;
    }
  }
  if (k === 0) return 0;
  // Swap the list before touching files: readers holding the old list see deleted segments and retry.
  log.segments = segments.slice(k);
  for (const segment of segments.slice(0, k)) await segment.delete();
  return k;
}
