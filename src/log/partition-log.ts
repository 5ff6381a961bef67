import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type ConsumedRecord,
  CorruptLogError,
  IoError,
  type Logger,
  OffsetOutOfRangeError,
} from '../core/index.ts';
import {
  type BatchHeader,
  batchSizeAt,
  decodeRecords,
  forEachRecord,
  readBatchHeader,
  setBaseOffset,
} from './batch-format.ts';
import { recoverInterruptedCompaction } from './compaction-recovery.ts';
import type { FileHandles } from './file-handles.ts';
import { ensureDir, fsyncDir, writeFileAtomic } from './file-io.ts';
import { appended } from './log-events.ts';
import { Segment } from './segment.ts';
import { lastAtMost } from './segment-index.ts';

/** What a partition needs from its topic's settings, normalised. */
export interface PartitionConfig {
  /** 'batch': fsync before acknowledging; a number: fsync at most every that many ms; 'never'. */
  fsync: 'batch' | 'never' | number;
  segmentBytes: number;
  retentionMs: number | null;
  retentionBytes: number | null;
  compacted: boolean;
  tombstoneRetentionMs: number;
}

interface PendingAppend {
  batch: Buffer;
  header: BatchHeader;
  /** Held back until a transaction's journal entry is durable. */
  held: boolean;
  /** Durable already in the transaction journal: its write need not wait for an fsync of its own. */
  journaled: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The partition's start as deleteRecords moved it, when that is inside the first segment (Kafka's log-start-offset checkpoint). */
const START_OFFSET_FILE = 'start-offset';

/** A read never fetches less than this, so tailing small batches does not mean one syscall each. */
const MIN_READ_BYTES = 256 * 1024;

/**
 * One partition of a topic: its segments, the single writer that appends to the last one, and the
 * offsets readers may see.
 *
 * Offsets are assigned synchronously when an append is queued, and the queue is written in order by
 * one writer, so file order is offset order. Three ends matter:
 *   nextOffset  — the next offset to hand out (includes queued, unwritten batches);
 *   writtenEnd  — after the last batch written (and fsynced, under the 'batch' policy);
 *   visibleEnd  — what readers see: writtenEnd, but never past the first batch of a transaction whose
 *                 commit has not reached every partition it touches (Kafka's last stable offset).
 */
export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  config: PartitionConfig;
  segments: Segment[];
  #nextOffset: number;
  #writtenEnd: number;
  #visibleEnd: number;
  /** Where deleteRecords moved the start to: records below it are gone even if their segment is not. */
  #logStart: number;
  #fences: number[] = [];
  #queue: PendingAppend[] = [];
  #writing: Promise<void> | null = null;
  #waiters = new Set<() => void>();
  #failed: unknown = null;
  readonly #logger: Logger;
  /** The bus's pool of segment file descriptors. */
  readonly handles: FileHandles;
  /** When the interval fsync policy last synced this partition (ms since the epoch). */
  lastSyncAt = 0;
  /** Retention and compaction take turns with each other, never with the writer (they skip the active segment). */
  maintenance: Promise<void> = Promise.resolve();

  private constructor(
    topic: string,
    partition: number,
    dir: string,
    config: PartitionConfig,
    segments: Segment[],
    logger: Logger,
    handles: FileHandles,
    logStart: number,
  ) {
    this.handles = handles;
    this.#logStart = logStart;
    this.topic = topic;
    this.partition = partition;
    this.dir = dir;
    this.config = config;
    this.segments = segments;
    this.#logger = logger;
    const end = segments[segments.length - 1]!.nextOffset;
    this.#nextOffset = end;
    this.#writtenEnd = end;
    this.#visibleEnd = end;
  }

  /**
   * Opens (or creates) a partition's folder. `cleanShutdown` says the last close finished, so saved
   * indexes can be trusted for every segment; otherwise the last segment is scanned, CRCs checked and
   * a torn or corrupt tail cut off.
   */
  static async open(
    dir: string,
    topic: string,
    partition: number,
    config: PartitionConfig,
    cleanShutdown: boolean,
    logger: Logger,
    handles: FileHandles,
  ): Promise<PartitionLog> {
    await ensureDir(dir);
    await recoverInterruptedCompaction(dir);
    const bases = (await readdir(dir))
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    for (let i = 0; i < bases.length; i++) {
      const last = i === bases.length - 1;
      const { segment, truncatedBytes } = await Segment.open(dir, bases[i]!, cleanShutdown || !last, handles);
      if (truncatedBytes > 0) {
        logger.warn(
          { topic, partition, segment: segment.file, truncatedBytes },
          'truncated a torn or corrupt tail (unacknowledged or damaged batches)',
        );
      }
      segments.push(segment);
    }
    if (segments.length === 0) {
      segments.push(Segment.create(dir, 0, handles));
      await fsyncDir(dir);
    }
    const saved = await readFile(path.join(dir, START_OFFSET_FILE), 'utf8').catch(() => '0');
    const logStart = Math.min(Number.parseInt(saved, 10) || 0, segments.at(-1)!.nextOffset);
    return new PartitionLog(topic, partition, dir, config, segments, logger, handles, logStart);
  }

  get startOffset(): number {
    return Math.max(this.segments[0]!.baseOffset, this.#logStart);
  }

  /**
   * Deletes the records below `offset` (Kafka's DeleteRecords): the start moves there for readers at
   * once, is saved so it survives a restart, and whole segments below it are deleted. Runs in turn
   * with retention and compaction. Returns the new start.
   */
  deleteRecordsBelow(offset: number): Promise<number> {
    const end = this.endOffset;
    if (!Number.isInteger(offset) || offset > end || offset < 0)
      return Promise.reject(
        new OffsetOutOfRangeError(this.topic, this.partition, offset, this.startOffset, end),
      );
    const task = this.maintenance.then(async () => {
      if (offset <= this.startOffset) return this.startOffset;
      await writeFileAtomic(path.join(this.dir, START_OFFSET_FILE), String(offset));
      this.#logStart = offset;
      const segments = this.segments;
      let k = 0;
      while (k < segments.length - 1 && segments[k]!.nextOffset <= offset) k++;
      if (k > 0) {
        // As retention does: swap the list first, so readers holding the old one retry.
        this.segments = segments.slice(k);
        for (const segment of segments.slice(0, k)) await segment.delete();
      }
      return this.startOffset;
    });
    this.maintenance = task.then(
      () => {},
      () => {},
    );
    return task;
  }

  get endOffset(): number {
    return this.#visibleEnd;
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  /** Queues a batch, assigning its offsets now; resolves with its base offset once written (and synced per policy). */
  append(batch: Buffer): Promise<number> {
    const pending = this.#enqueue(batch, false);
    return pending.done.then(() => pending.baseOffset);
  }

  /**
   * Queues a transaction's batch but holds it back (and everything after it) until `release()`, and
   * keeps readers below it until `unfence()`: the transaction's commit releases once its journal
   * entry is durable and unfences once every partition has the batch.
   */
  reserve(
    batch: Buffer,
    journaled = false,
  ): { baseOffset: number; done: Promise<void>; release: () => void; cancel: () => void } {
    const pending = this.#enqueue(batch, true, journaled);
    this.#fences.push(pending.baseOffset);
    return {
      ...pending,
      // The transaction did not commit (its journal entry failed): the batch is never written, its
      // offsets stay a gap, and readers and later appends go on.
      cancel: () => {
        const i = this.#queue.findIndex((e) => e.batch === batch);
        if (i >= 0)
          this.#queue.splice(i, 1)[0]!.reject(new IoError('The transaction was not committed', null));
        pending.done.catch(() => {});
        this.unfence(pending.baseOffset);
        this.#kick();
      },
    };
  }

  unfence(baseOffset: number): void {
    const i = this.#fences.indexOf(baseOffset);
    if (i >= 0) this.#fences.splice(i, 1);
    this.#publish();
  }

  #enqueue(
    batch: Buffer,
    held: boolean,
    journaled = false,
  ): { baseOffset: number; done: Promise<void>; release: () => void } {
    if (this.#failed) return { baseOffset: -1, done: Promise.reject(this.#failed), release: () => {} };
    const baseOffset = this.#nextOffset;
    setBaseOffset(batch, baseOffset);
    const header = readBatchHeader(batch, 0, false)!;
    this.#nextOffset = header.lastOffset + 1;
    let entry!: PendingAppend;
    const done = new Promise<void>((resolve, reject) => {
      entry = { batch, header, held, journaled, resolve, reject };
    });
    this.#queue.push(entry);
    if (!held) this.#kick();
    return {
      baseOffset,
      done,
      release: () => {
        entry.held = false;
        this.#kick();
      },
    };
  }

  #kick(): void {
    if (this.#writing === null && this.#queue.length > 0 && !this.#queue[0]!.held) {
      this.#writing = this.#drain().finally(() => {
        this.#writing = null;
        this.#kick();
      });
    }
  }

  /** The single writer: takes every ready batch, writes them with as few syscalls as it can, then syncs once. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#queue[0]!.held) {
      let n = 1;
      while (n < this.#queue.length && !this.#queue[n]!.held) n++;
      const entries = this.#queue.splice(0, n);
      try {
        await this.#write(entries);
      } catch (error) {
        // The file's state after a failed write is unknown: stop taking appends; reopening recovers.
        this.#failed = new IoError(
          `Writing ${this.topic}-${this.partition} failed; reopen the log to recover`,
          error,
        );
        this.#logger.error(
          { err: error, topic: this.topic, partition: this.partition },
          'append failed: partition stopped',
        );
        for (const e of entries) e.reject(this.#failed);
        for (const e of this.#queue.splice(0)) e.reject(this.#failed);
        return;
      }
      this.#writtenEnd = entries[entries.length - 1]!.header.lastOffset + 1;
      this.#publish();
      if (appended.hasSubscribers) {
        let records = 0;
        let bytes = 0;
        for (const e of entries) {
          records += e.header.recordCount;
          bytes += e.header.size;
        }
        appended.publish({ topic: this.topic, partition: this.partition, records, bytes });
      }
      for (const e of entries) e.resolve();
    }
  }

  async #write(entries: PendingAppend[]): Promise<void> {
    let i = 0;
    while (i < entries.length) {
      let active = this.active;
      if (!active.isEmpty && active.size + entries[i]!.header.size > this.config.segmentBytes) {
        active = await this.#roll(entries[i]!.header.baseOffset);
      }
      // As many batches as fit in this segment (at least one, however large).
      let bytes = active.size;
      let j = i;
      const batches: Buffer[] = [];
      const headers: BatchHeader[] = [];
      while (j < entries.length && (j === i || bytes + entries[j]!.header.size <= this.config.segmentBytes)) {
        batches.push(entries[j]!.batch);
        headers.push(entries[j]!.header);
        bytes += entries[j]!.header.size;
        j++;
      }
      active.append(batches, headers);
      i = j;
    }
    // Batches whose bytes the journal holds on disk are synced later, together (the transaction
    // coordinator syncs before it marks them done); any other batch waits for its fsync.
    if (this.config.fsync === 'batch' && !entries.every((e) => e.journaled)) await this.active.sync();
  }

  async #roll(baseOffset: number): Promise<Segment> {
    const old = this.active;
    if (this.config.fsync !== 'never') await old.sync();
    await old.saveIndex();
    const segment = Segment.create(this.dir, baseOffset, this.handles);
    if (this.config.fsync === 'batch') await fsyncDir(this.dir);
    this.segments.push(segment);
    return segment;
  }

  #publish(): void {
    let visible = this.#writtenEnd;
    for (const fence of this.#fences) if (fence < visible) visible = fence;
    if (visible > this.#visibleEnd) {
      this.#visibleEnd = visible;
      const waiters = [...this.#waiters];
      this.#waiters.clear();
      for (const wake of waiters) wake();
    }
  }

  /** Calls `wake` once, the next time the visible end moves. Returns a function that cancels it. */
  onAppend(wake: () => void): () => void {
    this.#waiters.add(wake);
    return () => this.#waiters.delete(wake);
  }

  /**
   * Resolves once every write made before the call is on disk, whatever segment it went to: the
   * interval fsync (the bus's timer) and the deferred fsync of journaled batches (the coordinator).
   */
  async sync(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.sync()));
  }

  /**
   * Reads records from `offset` up to what readers may see, at most `maxRecords` and about `maxBytes`
   * (whole batches; at least one record). Returns the offset to read next.
   */
  read(offset: number, maxRecords: number, maxBytes: number, out: ConsumedRecord[]): number {
    const end = this.#visibleEnd;
    if (offset >= end) return offset;
    if (offset < this.startOffset) {
      throw new OffsetOutOfRangeError(this.topic, this.partition, offset, this.startOffset, end);
    }
    let next = offset;
    let count = 0;
    let bytes = 0;
    const first = out.length;
    for (const { buf, at, header } of this.batchesFrom(offset)) {
      if (header.baseOffset >= end) break;
      if (header.lastOffset < next) continue;
      const n = decodeRecords(
        buf,
        at,
        header,
        this.topic,
        this.partition,
        next,
        end,
        maxRecords - count,
        out,
      );
      count += n;
      bytes += header.size;
      const last = out.length > first ? out[out.length - 1]!.offset : -1;
      next =
        count >= maxRecords && last < header.lastOffset ? last + 1 : Math.min(header.lastOffset + 1, end);
      if (next >= end || count >= maxRecords || bytes >= maxBytes) break;
    }
    return next;
  }

  /**
   * Every whole batch from the one holding `offset` (or the indexed batch before it) to the end of
   * the log, verified by CRC. Works on a snapshot of the segment list: if retention deletes a segment
   * while the caller pauses between batches, the walk ends early and the caller reads again from
   * where it got to.
   */
  *batchesFrom(offset: number): Generator<{ buf: Buffer; at: number; header: BatchHeader }> {
    const segments = this.segments;
    let si = Math.max(0, lastAtMost(segmentBases(segments), offset));
    let position = segments[si]!.index.positionFor(offset);
    while (si < segments.length) {
      const segment = segments[si]!;
      if (position >= segment.size) {
        si++;
        position = 0;
        continue;
      }
      let buf = segment.read(position, MIN_READ_BYTES);
      if (buf === null) return;
      let at = 0;
      while (at < buf.length) {
        const size = batchSizeAt(buf, at);
        if (size < 0 || size > buf.length - at) {
          if (at > 0) break;
          // One batch larger than a read: fetch it whole.
          const whole = segment.read(position, size);
          if (whole === null || whole.length < size) return;
          buf = whole;
          continue;
        }
        const header = readBatchHeader(buf, at, true);
        if (!header) {
          throw new CorruptLogError(
            `The batch at byte ${position + at} of ${segment.file} fails its CRC check: the file was changed outside Kappa or the disk is failing`,
          );
        }
        yield { buf, at, header };
        at += size;
      }
      position += at;
    }
  }

  /** The first offset whose record timestamp is ≥ ts, or -1 when no visible record is that recent. */
  offsetForTime(ts: number): number {
    const end = this.#visibleEnd;
    const segment = this.segments.find((s) => s.maxTimestamp >= ts);
    if (!segment) return -1;
    const start = segment.index.offsetBeforeTime(ts) ?? segment.baseOffset;
    for (const { buf, at, header } of this.batchesFrom(start)) {
      if (header.baseOffset >= end) return -1;
      if (header.maxTimestamp < ts) continue;
      let found = -1;
      forEachRecord(buf, at, header, (offset, timestamp) => {
        if (found < 0 && timestamp >= ts && offset < end) found = offset;
      });
      if (found >= 0) return found;
    }
    return -1;
  }

  /** Waits for queued appends to be written. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.maintenance;
    if (this.config.fsync !== 'never') await this.active.sync();
    for (const segment of this.segments) {
      await segment.saveIndex();
      await segment.close();
    }
  }
}

export function segmentBases(segments: readonly Segment[]): number[] {
  return segments.map((s) => s.baseOffset);
}
