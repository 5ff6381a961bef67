import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BATCH_HEADER_BYTES, type BatchHeader, batchSizeAt, readBatchHeader } from './batch-format.ts';
import type { FileHandles } from './file-handles.ts';
import { readAt, segmentFileName, writeAllAtSync } from './file-io.ts';
import { SegmentIndex } from './segment-index.ts';

const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * One file of a partition's log, holding the batches from `baseOffset` on, with its sparse index.
 * Only the last segment of a partition is appended to; the others are read-only until retention
 * deletes them or compaction replaces them.
 */
export class Segment {
  readonly baseOffset: number;
  readonly file: string;
  readonly indexFile: string;
  /** Descriptors come from the log's pool, opened on use and closed when others are used more. */
  readonly handles: FileHandles;
  index: SegmentIndex;
  /** Bytes of whole, acknowledged-or-in-flight batches: readers never look past this. */
  size: number;
  /** The offset after the last record in this segment (baseOffset when empty). */
  nextOffset: number;
  maxTimestamp: number;
  #deleted = false;
  /** Whether the index on disk is behind (or there is none worth reading): close saves it then. */
  #indexStale: boolean;
  /** Appends not yet fsynced; a sync of a clean segment would open its file for nothing. */
  #unsynced = false;
  /** The newest fsync in flight: it began after every append before it. */
  #syncing: Promise<void> | null = null;

  private constructor(
    dir: string,
    baseOffset: number,
    handles: FileHandles,
    index: SegmentIndex,
    size: number,
    nextOffset: number,
    maxTimestamp: number,
    indexStale: boolean,
  ) {
    this.baseOffset = baseOffset;
    this.file = path.join(dir, segmentFileName(baseOffset, '.log'));
    this.indexFile = path.join(dir, segmentFileName(baseOffset, '.index'));
    this.handles = handles;
    this.index = index;
    this.size = size;
    this.nextOffset = nextOffset;
    this.maxTimestamp = maxTimestamp;
    this.#indexStale = indexStale;
  }

  /** A new, empty segment file. An empty file needs no index: scanning it costs nothing. */
  static create(dir: string, baseOffset: number, handles: FileHandles): Segment {
    const segment = new Segment(
      dir,
      baseOffset,
      handles,
      new SegmentIndex(),
      0,
      baseOffset,
      Number.NEGATIVE_INFINITY,
      false,
    );
    handles.create(segment);
    return segment;
  }

  /**
   * Opens an existing segment. With `trustIndex`, a saved index that matches the file's size is used
   * as is; otherwise the file is scanned, every batch's CRC checked, and the file truncated at the
   * first torn or corrupt batch (everything after it is unacknowledged or damaged).
   */
  static async open(
    dir: string,
    baseOffset: number,
    trustIndex: boolean,
    handles: FileHandles,
  ): Promise<{ segment: Segment; truncatedBytes: number }> {
    const file = path.join(dir, segmentFileName(baseOffset, '.log'));
    const fileSize = (await stat(file)).size;
    if (trustIndex) {
      const loaded = await SegmentIndex.load(path.join(dir, segmentFileName(baseOffset, '.index')), fileSize);
      if (loaded) {
        const segment = new Segment(
          dir,
          baseOffset,
          handles,
          loaded.index,
          fileSize,
          loaded.nextOffset,
          loaded.maxTimestamp,
          false,
        );
        return { segment, truncatedBytes: 0 };
      }
    }
    // The scan reads through a descriptor of its own, closed after, so opening a topic of many
    // partitions does not fill the pool with files nobody is using yet.
    const scanning = { file };
    const index = new SegmentIndex();
    let nextOffset = baseOffset;
    let maxTimestamp = Number.NEGATIVE_INFINITY;
    let position = 0;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkStart = 0;
    const load = async (length: number) => {
      chunk = readAt(
        handles.fd(scanning),
        position,
        Math.min(Math.max(length, SCAN_CHUNK_BYTES), fileSize - position),
      );
      chunkStart = position;
    };
    while (position < fileSize) {
      if (position + BATCH_HEADER_BYTES > chunkStart + chunk.length) await load(BATCH_HEADER_BYTES);
      const size = batchSizeAt(chunk, position - chunkStart);
      if (size < BATCH_HEADER_BYTES || position + size > fileSize) break; // torn tail
      if (position + size > chunkStart + chunk.length) await load(size);
      const header = readBatchHeader(chunk, position - chunkStart, true);
      if (!header || header.baseOffset < nextOffset) break; // corrupt, or not a batch of this log
      maxTimestamp = Math.max(maxTimestamp, header.maxTimestamp);
      index.add(header.baseOffset, position, maxTimestamp);
      nextOffset = header.lastOffset + 1;
      position += size;
    }
    const truncatedBytes = fileSize - position;
    try {
      if (truncatedBytes > 0) {
        await handles.truncate(scanning, position);
        await handles.sync(scanning);
      }
    } finally {
      handles.close(scanning);
    }
    const segment = new Segment(
      dir,
      baseOffset,
      handles,
      index,
      position,
      nextOffset,
      maxTimestamp,
      position > 0,
    );
    return { segment, truncatedBytes };
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** Writes batches at the end; the caller assigned their offsets and keeps one write at a time. */
  append(batches: Buffer[], headers: BatchHeader[]): void {
    const start = this.size;
    const written = writeAllAtSync(this.handles.fd(this), batches, start);
    this.#indexStale = true;
    this.#unsynced = true;
    let position = start;
    for (const header of headers) {
      if (header.maxTimestamp > this.maxTimestamp) this.maxTimestamp = header.maxTimestamp;
      this.index.add(header.baseOffset, position, this.maxTimestamp);
      position += header.size;
      this.nextOffset = header.lastOffset + 1;
    }
    this.size = start + written;
  }

  /**
   * Resolves once every write made before the call is on disk. A clean segment opens no file; one
   * whose last write an fsync already in flight covers waits for that fsync instead of starting another.
   */
  async sync(): Promise<void> {
    if (this.#deleted) return;
    if (!this.#unsynced) return this.#syncing ?? undefined;
    // Cleared first: an append while the fsync runs sets it again, and the next sync covers it.
    this.#unsynced = false;
    const run = this.handles.sync(this);
    this.#syncing = run;
    try {
      await run;
    } catch (error) {
      this.#unsynced = true;
      throw error;
    } finally {
      if (this.#syncing === run) this.#syncing = null;
    }
  }

  /** Reads bytes for readers; null once the segment is deleted (the reader looks again). */
  read(position: number, length: number): Buffer | null {
    if (this.#deleted) return null;
    return readAt(this.handles.fd(this), position, Math.min(length, this.size - position));
  }

  get deleted(): boolean {
    return this.#deleted;
  }

  /** Saves the index if it is behind the file: a partition nobody wrote to costs nothing to close. */
  async saveIndex(): Promise<void> {
    if (!this.#indexStale || this.#deleted) return;
    await this.index.save(this.indexFile, this.size, this.nextOffset, this.maxTimestamp);
    this.#indexStale = false;
  }

  async close(): Promise<void> {
    if (this.#deleted) return;
    this.handles.close(this);
  }

  /** Removes the files. Reads are synchronous, so none is in flight to be cut short. */
  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    this.handles.close(this);
    await rm(this.file, { force: true });
    await rm(this.indexFile, { force: true });
  }
}
