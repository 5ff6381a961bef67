import type { Bus, PartitionRange } from '../../log/index.ts';
import { StateStoreError } from '../state/state-errors.ts';
import type { StateStore, StoreChange } from '../state/state-store.ts';

export interface RestoreResult {
  /** Changelog records read. */
  records: number;
  from: number;
  to: number;
  /** The local store was not usable (its position is not in the changelog) and was emptied first. */
  cleared: boolean;
}

/** How long a restore may read nothing before it is called stuck. */
const STUCK_AFTER_MS = 60_000;

/**
 * Brings a step's store up to the end of its changelog partition, as Kafka Streams' restore does:
 * from the store's own position when the changelog still holds it (a restart on the same machine:
 * only the tail), from the changelog's start otherwise. The changelog is compacted, so that costs
 * the live keys, not the history. Reads read_committed up to the end (the last stable offset) seen
 * at the start: the previous owner is fenced by then, so nothing of it can commit later. Each batch
 * is written with its position, so a restore cut short goes on from there; the awaits between
 * batches let the rest of the process run.
 */
export async function restoreStore(
  bus: Bus,
  store: StateStore,
  topic: string,
  partition: number,
  /** The changelog partition's range, when the caller has just read it. */
  known?: PartitionRange,
): Promise<RestoreResult> {
  const range = known ?? (await bus.partitionOffsets(topic))[partition];
  if (range === undefined) throw new StateStoreError(`The changelog ${topic} has no partition ${partition}`);
  let meta = store.meta();
  let cleared = false;
  // A position past the end (the topic was made again) or below the start (truncated past it): the
  // store's contents cannot be brought up to date from here.
  if (meta === null || meta.changelogOffset > range.end || meta.changelogOffset < range.start) {
    cleared = meta !== null;
    await store.clear();
    meta = null;
  }
  const from = meta?.changelogOffset ?? range.start;
  const result: RestoreResult = { records: 0, from, to: range.end, cleared };
  if (from >= range.end) return result;
  const inputOffset = meta?.inputOffset ?? -1;
  const reader = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
  try {
    await reader.assign([{ topic, partition, offset: from }]);
    let position = from;
    let progress = Date.now();
    while (position < range.end) {
      const batch = await reader.poll({ maxRecords: 5000, timeoutMs: 200 });
      if (batch.length === 0) {
        // Past the last records there may be only transaction markers, which the position passes.
        position = Math.max(position, reader.position(topic, partition) ?? position);
        if (Date.now() - progress > STUCK_AFTER_MS)
          throw new StateStoreError(
            `Restoring from ${topic}-${partition} is stuck at offset ${position} (end ${range.end})`,
          );
        continue;
      }
      progress = Date.now();
      const changes: StoreChange[] = [];
      for (const r of batch) if (r.offset < range.end && r.key !== null) changes.push([r.key, r.value]);
      position = batch.at(-1)!.offset + 1;
      await store.restore(changes, { changelogOffset: Math.min(position, range.end), inputOffset });
      result.records += changes.length;
    }
  } finally {
    await reader.close();
  }
  return result;
}
