import {
  BusClosedError,
  InvalidTransactionStateError,
  type ProducerRecord,
  type RecordMetadata,
  type TopicPartitionOffset,
  TransactionTooLargeError,
} from '../core/index.ts';
import { encodeBatch } from './batch-format.ts';
import type { GroupMetadata, Producer, ProducerOptions, Transaction } from './bus.ts';
import type { EmbeddedBus } from './embedded-bus.ts';
import { groupOf } from './group-of.ts';
import type { PartitionLog } from './partition-log.ts';
import { groupByPartition, type PartitionBatch } from './record-batches.ts';

export class EmbeddedProducer implements Producer {
  readonly #bus: EmbeddedBus;
  readonly transactionalId: string | undefined;
  readonly epoch: number;
  #sticky = 0;
  #open: EmbeddedTransaction | null = null;
  #closed = false;

  constructor(bus: EmbeddedBus, options: ProducerOptions) {
    this.#bus = bus;
    this.transactionalId = options.transactionalId;
    this.epoch =
      options.transactionalId === undefined ? 0 : bus.transactions.register(options.transactionalId);
  }

  /**
   * Appends the records all or nothing: one partition's records are one batch (a torn batch is cut
   * off on recovery), and records for several partitions go through the transaction journal, so a
   * crash never leaves some of them written. A client that retries an unanswered send then
   * duplicates nothing partially.
   */
  async send(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#checkOpen();
    const groups = groupByPartition(this.#bus, records, (_topic, n) => this.nextSticky(n));
    const now = this.#bus.clock.now();
    const out = new Array<RecordMetadata>(records.length);
    const place = (group: PartitionBatch, base: number) => {
      const { topic, partition } = group.log;
      const indexes = group.indexes;
      for (let i = 0; i < group.records.length; i++)
        out[indexes === null ? i : indexes[i]!] = { topic, partition, offset: base + i };
    };
    if (groups.size === 1) {
      for (const group of groups.values())
        place(group, await group.log.append(encodeBatch(group.records, group.sizes, now)));
      return out;
    }
    const transactionId = this.#bus.transactions.newTransactionId();
    const batches = new Map<PartitionLog, Buffer>();
    for (const group of groups.values())
      batches.set(group.log, encodeBatch(group.records, group.sizes, now, transactionId));
    const bases = await this.#bus.transactions.appendAll(transactionId, batches);
    for (const group of groups.values()) place(group, bases.get(group.log)!);
    return out;
  }

  async beginTransaction(): Promise<Transaction> {
    this.#checkOpen();
    if (this.transactionalId === undefined) {
      throw new InvalidTransactionStateError(
        'beginTransaction() needs a producer made with a transactionalId',
      );
    }
    if (this.#open)
      throw new InvalidTransactionStateError(
        'This producer already has a transaction open: commit or abort it first',
      );
    this.#bus.transactions.checkEpoch(this.transactionalId, this.epoch);
    this.#open = new EmbeddedTransaction(this.#bus, this, () => {
      this.#open = null;
    });
    return this.#open;
  }

  nextSticky(partitions: number): number {
    return this.#sticky++ % partitions;
  }

  #checkOpen(): void {
    if (this.#closed || this.#bus.closed) throw new BusClosedError('producer');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#open) await this.#open.abort().catch(() => {});
    this.#bus.untrack(this);
  }
}

/**
 * Records and offsets are held here until commit, then handed to the transaction coordinator, which
 * makes them visible on every partition at once. Buffers passed to send() must not change until then.
 */
export class EmbeddedTransaction implements Transaction {
  readonly #bus: EmbeddedBus;
  readonly #producer: EmbeddedProducer;
  readonly #onEnd: () => void;
  /** The records sent so far, by partition, in send order within each. */
  readonly parts = new Map<PartitionLog, { records: ProducerRecord[]; sizes: number[] }>();
  /** The partition of each record sent, in send order: what commit() answers in. */
  readonly order: PartitionLog[] = [];
  readonly offsets = new Map<string, TopicPartitionOffset[]>();
  /** Group members the offsets are fenced to, checked when the transaction commits. */
  readonly fences: GroupMetadata[] = [];
  #bytes = 0;
  #state: 'open' | 'committing' | 'ended' = 'open';

  constructor(bus: EmbeddedBus, producer: EmbeddedProducer, onEnd: () => void) {
    this.#bus = bus;
    this.#producer = producer;
    this.#onEnd = onEnd;
  }

  async send(records: ProducerRecord[]): Promise<void> {
    this.#checkOpen();
    // Validate now, so a bad record fails its send() and not the whole commit.
    const groups = groupByPartition(this.#bus, records, (_t, n) => this.#producer.nextSticky(n));
    let bytes = 0;
    for (const g of groups.values()) bytes += g.bytes;
    if (this.#bytes + bytes > this.#bus.maxTransactionBytes) {
      throw new TransactionTooLargeError(this.#bytes + bytes, this.#bus.maxTransactionBytes);
    }
    this.#bytes += bytes;
    // Each record's partition is pinned now (murmur2 or sticky, decided once): validated and
    // grouped here, the records are not looked at again until commit() encodes them.
    const at = this.order.length;
    for (const g of groups.values()) {
      let part = this.parts.get(g.log);
      if (!part) this.parts.set(g.log, (part = { records: [], sizes: [] }));
      for (let i = 0; i < g.records.length; i++) {
        part.records.push(g.records[i]!);
        part.sizes.push(g.sizes[i]!);
        this.order[at + (g.indexes === null ? i : g.indexes[i]!)] = g.log;
      }
    }
  }

  async sendOffsets(member: string | GroupMetadata, offsets: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const group = groupOf(member);
    if (typeof member !== 'string') {
      try {
        this.#bus.groups.checkFence(member);
      } catch (error) {
        await this.abort();
        throw error;
      }
      this.fences.push(member);
    }
    for (const o of offsets) this.#bus.partitionLog(o.topic, o.partition);
    const list = this.offsets.get(group) ?? [];
    list.push(...offsets);
    this.offsets.set(group, list);
  }

  async commit(): Promise<RecordMetadata[]> {
    this.#checkOpen();
    this.#state = 'committing';
    try {
      return await this.#bus.transactions.commit(this.#producer.transactionalId!, this.#producer.epoch, this);
    } finally {
      this.#state = 'ended';
      this.#onEnd();
    }
  }

  async abort(): Promise<void> {
    if (this.#state === 'ended') return;
    if (this.#state === 'committing')
      throw new InvalidTransactionStateError('The transaction is being committed');
    this.#state = 'ended';
    this.parts.clear();
    this.order.length = 0;
    this.offsets.clear();
    this.fences.length = 0;
    this.#onEnd();
  }

  #checkOpen(): void {
    if (this.#bus.closed) throw new BusClosedError('producer');
    if (this.#state !== 'open') throw new InvalidTransactionStateError(`The transaction is ${this.#state}`);
  }
}
