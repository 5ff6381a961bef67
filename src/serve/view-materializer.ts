import { type ConsumedRecord, type Logger, silentLogger } from '../core/index.ts';
import { type Bus, type Consumer, ensureTopic, type Producer } from '../log/index.ts';
import {
  deadLettered,
  deadLetterRecord,
  decodeViewRecord,
  describeError,
  type ViewRow,
  type ViewStep,
} from '../stream/index.ts';
import { materialized } from './serve-events.ts';
import { defineView, storedRow } from './view-columns.ts';
import { ViewStoreConflictError } from './view-errors.ts';
import type {
  PartitionProgress,
  RowId,
  StoredRow,
  ViewBatch,
  ViewDefinition,
  ViewStore,
} from './view-store.ts';

/** What one applied batch changed in a view version: the rows upserted, the rows removed. */
export interface ViewChange {
  view: string;
  /** The version's table. */
  table: string;
  upserts: StoredRow[];
  deletes: RowId[];
}

export interface ViewMaterializerOptions {
  bus: Bus;
  store: ViewStore;
  /** The pipeline's `toView` step: the view's name, topic, retention and declared columns. */
  step: ViewStep;
  pipeline: string;
  deadLetterTopic: string;
  logger?: Logger;
  /** Called after each batch is committed to the store, and awaited (the cache and live subscribers follow it). */
  onChange?: (change: ViewChange) => void | Promise<void>;
  /** Records per batch at most. Default 10,000. */
  maxBatchRecords?: number;
}

/**
 * Keeps a view equal to its topic's latest record per (key, window). It reads the topic
 * `read_committed` from the offsets the view store holds, folds each poll's records into upserts
 * and deletes (the last record per row wins, as compaction would), and applies them with the
 * offsets they reach in one database transaction. A crash between two batches loses nothing and
 * applies nothing twice: the next run starts from the offsets of the last batch committed.
 *
 * Several materializers of one view (two workers on one PostgreSQL) are safe: a batch applies only
 * if the store's offsets are still the ones it was read from, and the loser reads on from the
 * winner's offsets.
 */
export class ViewMaterializer {
  readonly #o: ViewMaterializerOptions;
  readonly #logger: Logger;
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #definition: ViewDefinition | null = null;
  /** Next offset per partition, as of the last batch applied (or read from the store). */
  #positions = new Map<number, number>();
  /** The consumer's position per partition once everything it had returned was applied. */
  #read = new Map<number, number>();
  /** The newest window end seen: retention counts back from it. */
  #newestEnd = Number.NEGATIVE_INFINITY;
  #loop: Promise<void> | null = null;
  #stopped = false;
  #applied = 0;

  constructor(options: ViewMaterializerOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get view(): string {
    return this.#o.step.view;
  }

  /** The table of the view version this materializer keeps. */
  get table(): string {
    return this.#o.step.table;
  }

  /** The pipeline whose view this is. */
  get pipeline(): string {
    return this.#o.pipeline;
  }

  get version(): number {
    return this.#o.step.version;
  }

  /** Rows upserted or deleted so far by this materializer. */
  get applied(): number {
    return this.#applied;
  }

  /**
   * Records of the view's topic not in the store yet (the materializer's lag), counted from the
   * consumer's position after the last batch applied: past the transaction markers after its
   * records too, which take offsets but are no records.
   */
  async lag(): Promise<number> {
    const ranges = await this.#o.bus.partitionOffsets(this.#o.step.topic);
    return ranges.reduce((n, r) => {
      const read = Math.max(this.#positions.get(r.partition) ?? 0, this.#read.get(r.partition) ?? 0);
      return n + Math.max(0, r.end - Math.max(r.start, read));
    }, 0);
  }

  async start(): Promise<void> {
    const { bus, store, step } = this.#o;
    await ensureTopic(bus, this.#o.deadLetterTopic, { partitions: 1 });
    this.#definition = (await store.views()).find((v) => v.name === step.table) ?? null;
    if (this.#definition) await this.#activateIfFirst();
    this.#producer = bus.producer();
    this.#consumer = bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
    await this.#seekToStore();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#consumer?.close().catch(() => {});
    await this.#producer?.close().catch(() => {});
  }

  /** Every partition of the topic, from the offsets the store holds (0 where it holds none). */
  async #seekToStore(): Promise<void> {
    const { bus, store, step } = this.#o;
    const stored = await store.offsets(step.table);
    const { partitions } = await bus.describeTopic(step.topic);
    this.#positions = new Map();
    this.#read = new Map();
    const assignment = [];
    for (let p = 0; p < partitions; p++) {
      const offset = stored.get(p) ?? 0;
      this.#positions.set(p, offset);
      assignment.push({ topic: step.topic, partition: p, offset });
    }
    await this.#consumer!.assign(assignment);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const records = await this.#consumer!.poll({
          maxRecords: this.#o.maxBatchRecords ?? 10_000,
          maxBytes: 16 * 1024 * 1024,
          timeoutMs: 200,
        });
        if (records.length > 0) await this.#materialize(records);
        for (const p of this.#positions.keys())
          this.#read.set(p, this.#consumer!.position(this.#o.step.topic, p) ?? 0);
        failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        failures++;
        const conflict = error instanceof ViewStoreConflictError;
        this.#logger[conflict ? 'info' : 'warn'](
          { err: error, view: this.view },
          conflict
            ? 'view materializer: another one applied this batch first; reading on from its offsets'
            : 'view materializer: batch failed; reading again from the offsets the store holds',
        );
        if (!conflict) await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)));
        await this.#seekToStore().catch((e: unknown) =>
          this.#logger.error({ err: e, view: this.view }, 'view materializer: cannot read the store'),
        );
      }
    }
  }

  async #materialize(records: ConsumedRecord[]): Promise<void> {
    const { store, step } = this.#o;
    const rows = new Map<string, { id: RowId; row: ViewRow | null; record: ConsumedRecord }>();
    const progress = new Map<number, PartitionProgress>();
    const letters = [];
    for (const record of records) {
      const p = progress.get(record.partition);
      if (p) p.to = record.offset + 1;
      else
        progress.set(record.partition, {
          partition: record.partition,
          from: this.#positions.get(record.partition) ?? 0,
          to: record.offset + 1,
        });
      try {
        const { key, start, end, row } = decodeViewRecord(record.key, record.value);
        // The record key is the row's identity: the last record per key in the batch wins.
        rows.set(record.key!.toString('latin1'), {
          id: { key, windowStart: start, windowEnd: end },
          row,
          record,
        });
      } catch (error) {
        letters.push(this.#letter(record, error));
      }
    }
    if (this.#definition === null) {
      const first = [...rows.values()].flatMap((r) => (r.row ? [r.row] : []));
      if (first.length > 0) {
        this.#definition = await store.define(defineView(step, first));
        await this.#activateIfFirst();
      }
    }
    const upserts: StoredRow[] = [];
    const deletes: RowId[] = [];
    for (const { id, row, record } of rows.values()) {
      if (row === null) {
        deletes.push(id);
        continue;
      }
      try {
        const stored = storedRow(this.#definition!, row);
        upserts.push(stored);
        if (stored.windowEnd > this.#newestEnd) this.#newestEnd = stored.windowEnd;
      } catch (error) {
        letters.push(this.#letter(record, error));
      }
    }
    // At least once: a crash before the batch commits sends these again with it.
    if (letters.length > 0) {
      await this.#producer!.send(letters);
      if (deadLettered.hasSubscribers)
        deadLettered.publish({
          pipeline: this.#o.pipeline,
          step: step.name,
          reason: 'error',
          count: letters.length,
        });
    }
    const batch: ViewBatch = { upserts, deletes, progress: [...progress.values()] };
    const retention = this.#definition?.retentionMs ?? step.retentionMs;
    if (retention !== null && Number.isFinite(this.#newestEnd))
      batch.expireBefore = this.#newestEnd - retention;
    if (this.#definition === null) {
      // Only tombstones and bad records so far (a row would have defined the view): no table to
      // apply to, but the offsets move on.
      for (const p of batch.progress) this.#positions.set(p.partition, p.to);
      return;
    }
    await store.apply(step.table, batch);
    for (const p of batch.progress) this.#positions.set(p.partition, p.to);
    this.#applied += upserts.length + deletes.length;
    if (materialized.hasSubscribers)
      materialized.publish({
        view: step.view,
        upserts: upserts.length,
        deletes: deletes.length,
        records: records.length,
      });
    await this.#o.onChange?.({ view: step.view, table: step.table, upserts, deletes });
  }

  /**
   * The first version of a view that has a table serves at once; a later one waits to be promoted
   * (see ViewVersions), so queries never see it half built.
   */
  async #activateIfFirst(): Promise<void> {
    await this.#o.store.activate(this.#o.step.view, this.#o.step.table, null);
  }

  #letter(record: ConsumedRecord, error: unknown) {
    const { errorClass, message } = describeError(error);
    return deadLetterRecord(this.#o.deadLetterTopic, {
      kind: 'result',
      reason: 'error',
      pipeline: this.#o.pipeline,
      step: this.#o.step.name,
      errorClass,
      message,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value: record.value,
    });
  }
}
