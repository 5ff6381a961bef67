import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BATCH_HEADER_BYTES,
  batchSizeAt,
  forEachRecord,
  readBatchHeader,
  rebuildBatch,
} from './batch-format.ts';
import { cleanedFileName } from './compaction-recovery.ts';
import { fsyncDir } from './file-io.ts';
import type { PartitionLog } from './partition-log.ts';
import { Segment } from './segment.ts';

export interface CompactionResult {
  segmentsRewritten: number;
  recordsRemoved: number;
}

interface Kept {
  buf: Buffer;
  start: number;
  end: number;
  offset: number;
  timestamp: number;
}

/**
 * Compacts a partition of a compacted topic: in every segment but the active one, keep only the
 * newest record of each key, and drop tombstones whose timestamp is older than the tombstone
 * retention. Offsets are kept. Neighbouring segments are merged while the result fits in one segment.
 *
 * The key map covers the whole log, so a key rewritten in the active segment loses its older records
 * in the closed ones too. Crash safety is in compaction-recovery.ts.
 */
export async function compactPartition(log: PartitionLog, now: number): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, recordsRemoved: 0 };
  const closed = log.segments.slice(0, -1);
  if (closed.length === 0) return result;
  const yieldNow = yielder();

  const newest = new Map<string, number>();
  const end = log.endOffset;
  for (const { buf, at, header } of log.batchesFrom(log.startOffset)) {
    if (header.baseOffset >= end) break;
    await yieldNow();
    forEachRecord(buf, at, header, (offset, _ts, key) => {
      if (key !== null && offset < end) newest.set(key.toString('latin1'), offset);
    });
  }
  const tombstoneHorizon = now - log.config.tombstoneRetentionMs;

  let group: Segment[] = [];
  let groupBatches: Buffer[] = [];
  let groupBytes = 0;
  let groupRemoved = 0;
  const flush = async (): Promise<void> => {
    if (group.length > 0 && (groupRemoved > 0 || group.length > 1)) {
      await replaceSegments(log, group, groupBatches);
      result.segmentsRewritten += group.length;
      result.recordsRemoved += groupRemoved;
    }
    group = [];
    groupBatches = [];
    groupBytes = 0;
    groupRemoved = 0;
  };

  for (const segment of closed) {
    const data = segment.read(0, segment.size);
    if (data === null) return result; // retention took it meanwhile; next round
    const batches: Buffer[] = [];
    let bytes = 0;
    let removed = 0;
    for (let at = 0; at + BATCH_HEADER_BYTES <= data.length; ) {
      await yieldNow();
      const header = readBatchHeader(data, at, true);
      if (!header) break;
      const kept: Kept[] = [];
      forEachRecord(data, at, header, (offset, timestamp, key, isTombstone, start, stop) => {
        const keep =
          key !== null &&
          newest.get(key.toString('latin1')) === offset &&
          (!isTombstone || timestamp >= tombstoneHorizon);
        if (keep) kept.push({ buf: data, start, end: stop, offset, timestamp });
        else removed++;
      });
      if (kept.length > 0) {
        const batch = rebuildBatch(kept, header.transactionId);
        batches.push(batch);
        bytes += batch.length;
      }
      at += batchSizeAt(data, at);
    }
    if (group.length > 0 && groupBytes + bytes > log.config.segmentBytes) await flush();
    group.push(segment);
    groupBatches.push(...batches);
    groupBytes += bytes;
    groupRemoved += removed;
  }
  await flush();
  return result;
}

/**
 * Compaction walks whole segments: it lets the event loop run every few milliseconds, so appends,
 * reads and HTTP requests are not held up for the length of a scan.
 */
function yielder(sliceMs = 10): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
}

async function replaceSegments(log: PartitionLog, old: Segment[], batches: Buffer[]): Promise<void> {
  const dir = log.dir;
  const base = old[0]!.baseOffset;
  const current = log.segments;
  const after = current[current.indexOf(old[old.length - 1]!) + 1]!;
  const cleaned = path.join(dir, cleanedFileName(base, after.baseOffset, '.cleaned'));
  const swap = path.join(dir, cleanedFileName(base, after.baseOffset, '.swap'));
  await writeFile(cleaned, batches, { flush: true });
  await rename(cleaned, swap);
  await fsyncDir(dir); // from here on the compaction happens, crash or not
  for (const segment of old) await segment.delete();
  await rename(swap, path.join(dir, path.basename(old[0]!.file)));
  await fsyncDir(dir);
  const { segment } = await Segment.open(dir, base, false, log.handles);
  const list = log.segments;
  const first = list.indexOf(old[0]!);
  log.segments = [...list.slice(0, first), segment, ...list.slice(first + old.length)];
}
