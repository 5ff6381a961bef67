import { ProducerFencedError, type RecordMetadata, UnknownTopicError } from '../core/index.ts';
import { encodeBatch, readBatchHeader } from './batch-format.ts';
import type { EmbeddedBus } from './embedded-bus.ts';
import type { EmbeddedTransaction } from './embedded-producer.ts';
import { OFFSETS_TOPIC } from './offset-store.ts';
import type { PartitionLog } from './partition-log.ts';
import type { JournalPart, PreparedTransaction, TransactionJournal } from './transaction-journal.ts';

/**
 * Commits transactions atomically across partitions (see transaction-journal.ts for the crash
 * story) and fences zombie producers: each transactional id has an epoch, bumped by every new producer
 * with that id; a commit from an older epoch fails with ProducerFencedError.
 *
 * Visibility: each partition's batch is reserved (offsets assigned, readers kept below it) in one
 * synchronous step, and all fences are lifted in one synchronous step after every partition has its
 * batch, so in this single-threaded process a reader sees the whole transaction or none of it.
 */
export class TransactionCoordinator {
  readonly #bus: EmbeddedBus;
  readonly #journal: TransactionJournal;
  readonly #epochs = new Map<string, number>();
  #lastId = 0;
  #inFlight = new Set<Promise<unknown>>();
  #unsynced: Array<{ transactionId: number; logs: PartitionLog[] }> = [];
  #flushing: Promise<void> | null = null;

  constructor(bus: EmbeddedBus, journal: TransactionJournal) {
    this.#bus = bus;
    this.#journal = journal;
  }

  register(transactionalId: string): number {
    const epoch = (this.#epochs.get(transactionalId) ?? 0) + 1;
    this.#epochs.set(transactionalId, epoch);
    return epoch;
  }

  checkEpoch(transactionalId: string, epoch: number): void {
    if (this.#epochs.get(transactionalId) !== epoch) throw new ProducerFencedError(transactionalId);
  }

  /** Commits a transaction; resolves with the offset of every record it sent, in send order. */
  async commit(transactionalId: string, epoch: number, txn: EmbeddedTransaction): Promise<RecordMetadata[]> {
    this.checkEpoch(transactionalId, epoch);
    for (const fence of txn.fences) this.#bus.groups.checkFence(fence);
    const transactionId = this.newTransactionId();
    const now = this.#bus.clock.now();
    const batches = new Map<PartitionLog, Buffer>();
    for (const [log, part] of txn.parts) {
      // Validated at send(); a topic deleted since (or deleted and made again) refuses the commit.
      if (this.#bus.partitionLogs(log.topic)[log.partition] !== log) throw new UnknownTopicError(log.topic);
      batches.set(log, encodeBatch(part.records, part.sizes, now, transactionId));
    }
    const offsetsLog = this.#bus.partitionLog(OFFSETS_TOPIC, 0);
    const offsets = [...txn.offsets.entries()];
    if (offsets.length > 0) batches.set(offsetsLog, this.#bus.offsets.encode(offsets, now, transactionId));
    if (batches.size === 0) return [];
    const bases = await this.appendAll(transactionId, batches, () => {
      for (const [group, list] of offsets) this.#bus.offsets.apply(group, list);
    });
    // A partition's records are one batch with consecutive offsets, in send order.
    const next = new Map(bases);
    return txn.order.map((log) => {
      const offset = next.get(log)!;
      next.set(log, offset + 1);
      return { topic: log.topic, partition: log.partition, offset };
    });
  }

  /**
   * Appends one batch to each of several partitions, all or nothing across a crash, and makes them
   * visible together: the commit of a transaction, and any plain send that spans partitions. Each
   * batch must carry `transactionId` (recovery recognises its batches by it). Returns each
   * partition's base offset.
   */
  async appendAll(
    transactionId: number,
    batches: Map<PartitionLog, Buffer>,
    onVisible: () => void = () => {},
  ): Promise<Map<PartitionLog, number>> {
    // The journal entry needs the disk only when a partition promises the disk: under 'never' or an
    // interval, a machine crash may lose the batches anyway, and a process crash keeps the page cache.
    // When it is on disk, it holds the batches durably, so the partitions skip their own fsync on the
    // way to the answer and sync later, together (#deferDone).
    let durable = false;
    for (const log of batches.keys()) if (log.config.fsync === 'batch') durable = true;
    // Synchronous from here to the journal write: offsets are assigned and readers fenced together.
    const reservations = [...batches].map(([log, batch]) => ({ log, batch, ...log.reserve(batch, durable) }));
    const prepared: PreparedTransaction = {
      transactionId,
      parts: reservations.map((r) => ({
        topic: r.log.topic,
        partition: r.log.partition,
        baseOffset: r.baseOffset,
        batch: r.batch,
      })),
    };
    const work = (async () => {
      try {
        await this.#journal.prepare(prepared, durable);
      } catch (error) {
        // Not committed: no batch is written, and no partition is left fenced or blocked.
        for (const r of reservations) r.cancel();
        throw error;
      }
      for (const r of reservations) r.release();
      try {
        await Promise.all(reservations.map((r) => r.done));
      } finally {
        // A partition that failed to write has stopped; the others show their part, which a restart
        // completes from the journal (the entry is durable, so the transaction stands).
        for (const r of reservations) r.log.unfence(r.baseOffset);
      }
      onVisible();
      if (durable)
        this.#deferDone(
          transactionId,
          reservations.filter((r) => r.log.config.fsync === 'batch').map((r) => r.log),
        );
      else await this.#journal.done(transactionId);
    })();
    this.#inFlight.add(work);
    try {
      await work;
    } finally {
      this.#inFlight.delete(work);
    }
    return new Map(reservations.map((r) => [r.log, r.baseOffset]));
  }

  /**
   * A journaled transaction is marked done only once its partitions are on disk: until then its
   * PREPARE entry is what a machine crash recovers it from. Many transactions share one fsync per
   * partition this way, off the path of their answers.
   */
  #deferDone(transactionId: number, logs: PartitionLog[]): void {
    this.#unsynced.push({ transactionId, logs });
    if (!this.#flushing) this.#startFlush();
  }

  #startFlush(): void {
    const flush = (async () => {
      while (this.#unsynced.length > 0) {
        const batch = this.#unsynced.splice(0);
        const logs = new Set(batch.flatMap((t) => t.logs));
        const synced = await Promise.allSettled([...logs].map((log) => log.sync()));
        const failed = synced.find((r) => r.status === 'rejected');
        if (failed) {
          // Left prepared: recovery rolls them forward. The partition has stopped taking appends.
          this.#bus.logger.error({ err: failed.reason }, 'deferred fsync of journaled batches failed');
          continue;
        }
        for (const t of batch) await this.#journal.done(t.transactionId);
      }
    })();
    this.#flushing = flush;
    this.#inFlight.add(flush);
    void flush.finally(() => {
      this.#inFlight.delete(flush);
      this.#flushing = null;
      // One deferred after the loop's last look and before this line would wait for the next.
      if (this.#unsynced.length > 0) this.#startFlush();
    });
  }

  /** Waits until every journaled transaction is on disk and marked done (before a topic is deleted). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Rolls forward commits a crash interrupted: every partition that lacks its batch gets it.
   * Returns how many batches had to be re-applied.
   */
  async recover(unfinished: PreparedTransaction[]): Promise<number> {
    let reapplied = 0;
    for (const txn of unfinished) {
      for (const part of txn.parts) if (await this.#reapply(part, txn.transactionId)) reapplied++;
      this.#lastId = Math.max(this.#lastId, txn.transactionId);
    }
    await this.#journal.reset();
    return reapplied;
  }

  async #reapply(part: JournalPart, transactionId: number): Promise<boolean> {
    if (!this.#bus.hasTopic(part.topic)) return false; // deleted since
    const log = this.#bus.partitionLog(part.topic, part.partition);
    // Partitions are written in offset order and the transaction's batch was queued before anything
    // after it, so it is present exactly when the log reaches past its base offset.
    if (log.endOffset > part.baseOffset) return false;
    const header = readBatchHeader(part.batch, 0, true);
    if (!header || header.transactionId !== transactionId) return false;
    const base = await log.append(part.batch);
    if (base !== part.baseOffset) {
      this.#bus.logger.warn(
        { topic: part.topic, partition: part.partition, expected: part.baseOffset, got: base },
        'transaction batch re-applied at a different offset: records before it were lost (fsync policy allowed it)',
      );
    }
    return true;
  }

  newTransactionId(): number {
    // Unique across restarts without persisting a counter: time-based, strictly increasing.
    this.#lastId = Math.max(this.#lastId + 1, Date.now() * 1000);
    return this.#lastId;
  }

  async close(): Promise<void> {
    // A commit that finishes may start a deferred flush: wait until nothing is left.
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
