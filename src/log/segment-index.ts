import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './file-io.ts';

/**
 * A segment's sparse index: for some batches (one every INDEX_INTERVAL_BYTES of log), the batch's base
 * offset, its file position, and the largest timestamp in the segment up to and including it. Offsets
 * increase, so an offset lookup is a binary search; the running maximum makes the timestamp column
 * non-decreasing too, so a time lookup is one as well (the time index).
 *
 * In memory while the segment is open; written to `<base>.index` when the segment is closed or
 * rolled, and rebuilt by scanning the segment when that file is missing or does not match it.
 */
export const INDEX_INTERVAL_BYTES = 4096;
const MAGIC = 0x4b494458; // 'KIDX'
const HEADER_BYTES = 32;
const ENTRY_BYTES = 24;

export class SegmentIndex {
  offsets: number[] = [];
  positions: number[] = [];
  maxTimestamps: number[] = [];
  #lastIndexedPosition = Number.NEGATIVE_INFINITY;

  /** Called for every batch appended, in order. */
  add(baseOffset: number, position: number, maxTimestampSoFar: number): void {
    if (position - this.#lastIndexedPosition < INDEX_INTERVAL_BYTES) return;
    this.offsets.push(baseOffset);
    this.positions.push(position);
    this.maxTimestamps.push(maxTimestampSoFar);
    this.#lastIndexedPosition = position;
  }

  /** File position of the last indexed batch whose base offset is ≤ offset (0 if none). */
  positionFor(offset: number): number {
    const i = lastAtMost(this.offsets, offset);
    return i < 0 ? 0 : this.positions[i]!;
  }

  /**
   * An offset from which a scan finds the first record with timestamp ≥ ts: the indexed batch before
   * the first entry whose running maximum reaches ts; undefined means the segment's start.
   */
  offsetBeforeTime(ts: number): number | undefined {
    let lo = 0;
    let hi = this.maxTimestamps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maxTimestamps[mid]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.offsets[lo - 1];
  }

  /** Drops entries at or past `position` (the log was truncated there). */
  truncateTo(position: number): void {
    let n = this.positions.length;
    while (n > 0 && this.positions[n - 1]! >= position) n--;
    this.offsets.length = n;
    this.positions.length = n;
    this.maxTimestamps.length = n;
    this.#lastIndexedPosition = n === 0 ? Number.NEGATIVE_INFINITY : this.positions[n - 1]!;
  }

  async save(file: string, segmentSize: number, nextOffset: number, maxTimestamp: number): Promise<void> {
    const n = this.offsets.length;
    const buf = Buffer.allocUnsafe(HEADER_BYTES + n * ENTRY_BYTES);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(n, 4);
    buf.writeDoubleLE(segmentSize, 8);
    buf.writeDoubleLE(nextOffset, 16);
    buf.writeDoubleLE(maxTimestamp, 24);
    for (let i = 0; i < n; i++) {
      const at = HEADER_BYTES + i * ENTRY_BYTES;
      buf.writeDoubleLE(this.offsets[i]!, at);
      buf.writeDoubleLE(this.positions[i]!, at + 8);
      buf.writeDoubleLE(this.maxTimestamps[i]!, at + 16);
    }
    await writeFileAtomic(file, buf);
  }

  /** Loads an index file if it exists and describes a segment of exactly `segmentSize` bytes. */
  static async load(
    file: string,
    segmentSize: number,
  ): Promise<{ index: SegmentIndex; nextOffset: number; maxTimestamp: number } | null> {
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch {
      return null;
    }
    if (buf.length < HEADER_BYTES || buf.readUInt32LE(0) !== MAGIC) return null;
    const n = buf.readUInt32LE(4);
    if (buf.length !== HEADER_BYTES + n * ENTRY_BYTES || buf.readDoubleLE(8) !== segmentSize) return null;
    const index = new SegmentIndex();
    for (let i = 0; i < n; i++) {
      const at = HEADER_BYTES + i * ENTRY_BYTES;
      const position = buf.readDoubleLE(at + 8);
      if (position >= segmentSize) return null;
      index.offsets.push(buf.readDoubleLE(at));
      index.positions.push(position);
      index.maxTimestamps.push(buf.readDoubleLE(at + 16));
    }
    index.#lastIndexedPosition = n === 0 ? Number.NEGATIVE_INFINITY : index.positions[n - 1]!;
    return { index, nextOffset: buf.readDoubleLE(16), maxTimestamp: buf.readDoubleLE(24) };
  }
}

/** Index of the last element ≤ value in a sorted array, or -1. */
export function lastAtMost(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
