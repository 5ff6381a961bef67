import { type MessageToProduce, Producer as PlatformaticProducer } from '@platformatic/kafka';
import {
  BusClosedError,
  GroupFencedError,
  InvalidArgumentError,
  InvalidTransactionStateError,
  type ProducerRecord,
  partitionForKey,
  type RecordMetadata,
  RecordTooLargeError,
  type TopicPartitionOffset,
  tpKey,
  UnknownPartitionError,
} from '../core/index.ts';
import {
  type GroupMetadata,
  groupOf,
  type Producer,
  type ProducerOptions,
  type Transaction,
} from '../log/index.ts';
import type { KafkaBus } from './kafka-bus.ts';
import { toKappaError } from './kafka-errors.ts';
import { appended, publishAppended } from './kafka-events.ts';
import { connectionOptions } from './kafka-options.ts';
import { commitTransactionOffsets } from './txn-offset-commit.ts';

type Outgoing = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/** A record's framing in a batch (length, attributes, deltas, header count) at most; the batch's own is 61 bytes. */
const RECORD_OVERHEAD = 24;
const BATCH_OVERHEAD = 61;

/** Cuts a send's records, in order, into requests whose per-partition batches stay under a byte budget. */
class RequestSplitter {
  readonly #budget: number;
  readonly #requests: Outgoing[][] = [[]];
  /** Bytes of the current request per topic, indexed by partition. */
  #bytes = new Map<string, number[]>();

  constructor(budget: number) {
    this.#budget = budget;
  }

  add(message: Outgoing, size: number): void {
    const partition = message.partition!;
    const record = size + RECORD_OVERHEAD;
    let topic = this.#bytes.get(message.topic);
    let bytes = (topic?.[partition] ?? BATCH_OVERHEAD) + record;
    if (bytes > this.#budget && this.#requests.at(-1)!.length > 0) {
      this.#requests.push([]);
      this.#bytes = new Map();
      topic = undefined;
      bytes = BATCH_OVERHEAD + record;
    }
    if (!topic) this.#bytes.set(message.topic, (topic = []));
    topic[partition] = bytes;
    this.#requests.at(-1)!.push(message);
  }

  done(): Outgoing[][] {
    return this.#requests.filter((r) => r.length > 0);
  }
}

/**
 * An idempotent (acks=all) Kafka producer. Partitions are chosen here, exactly as the embedded log
 * chooses them (murmur2 of the key; keyless records of one send together), so a key lands on the same
 * partition on either bus. Records are checked before anything is sent, as the contract requires.
 */
export class KafkaProducer implements Producer {
  readonly #bus: KafkaBus;
  /** The underlying client; the transaction sends its offsets through it. */
  readonly client: PlatformaticProducer<Buffer, Buffer, Buffer, Buffer>;
  readonly transactionalId: string | undefined;
  #sticky = 0;
  #open: KafkaTransaction | null = null;
  #closed = false;

  constructor(bus: KafkaBus, options: ProducerOptions) {
    this.#bus = bus;
    this.transactionalId = options.transactionalId;
    this.client = new PlatformaticProducer({
      ...connectionOptions(bus.options, 'producer'),
      idempotent: true,
      acks: -1,
      ...(bus.options.compression && bus.options.compression !== 'none'
        ? { compression: bus.options.compression }
        : {}),
      // A new producer must introduce itself with producer id -1 (KIP-360): the client's default of 0
      // reads as "I am producer 0", which the broker fences whenever another producer got id 0 first.
      ...(options.transactionalId
        ? { transactionalId: options.transactionalId, producerId: -1n, producerEpoch: -1 }
        : {}),
    });
  }

  async send(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#checkOpen();
    const requests = await this.prepare(records);
    const out: RecordMetadata[] = [];
    try {
      // One after another: the idempotent producer keeps a partition's records in this order.
      for (const messages of requests) {
        const result = await this.client.send({ messages });
        out.push(...this.metadata(messages, result.offsets ?? []));
        publishAppended([messages]);
      }
      return out;
    } catch (error) {
      throw toKappaError(error, { topic: records[0]?.topic ?? '' });
    }
  }

  /**
   * Validates every record and pins its partition, throwing before anything is sent; then splits the
   * records, in order, into requests whose batch for any one partition stays under the broker's
   * max.message.bytes, so a large send() is not refused as a whole (MESSAGE_TOO_LARGE).
   */
  async prepare(records: readonly ProducerRecord[]): Promise<Outgoing[][]> {
    if (!Array.isArray(records)) throw new InvalidArgumentError('send() takes an array of records');
    const partitions = new Map<string, number>();
    const sticky = new Map<string, number>();
    const now = BigInt(Date.now());
    const requests = new RequestSplitter(this.#bus.maxBatchBytes);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      let count = partitions.get(r.topic);
      if (count === undefined) {
        count = await this.#bus.partitionCount(r.topic);
        partitions.set(r.topic, count);
      }
      if (r.value !== null && !Buffer.isBuffer(r.value))
        throw new InvalidArgumentError(`Record ${i}: value must be a Buffer or null`);
      if (r.key != null && !Buffer.isBuffer(r.key))
        throw new InvalidArgumentError(`Record ${i}: key must be a Buffer, null or absent`);
      let size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
      let headers: Map<Buffer, Buffer> | undefined;
      if (r.headers !== undefined) {
        for (const name in r.headers) {
          const value = r.headers[name]!;
          const key = Buffer.from(name);
          (headers ??= new Map()).set(key, value);
          size += key.length + value.length;
        }
      }
      if (size > this.#bus.maxRecordBytes)
        throw new RecordTooLargeError(size, this.#bus.maxRecordBytes, `record ${i}`);
      let partition: number;
      if (r.partition !== undefined) {
        if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= count)
          throw new UnknownPartitionError(r.topic, r.partition, count);
        partition = r.partition;
      } else if (r.key != null) {
        partition = partitionForKey(r.key, count);
      } else {
        partition = sticky.get(r.topic) ?? this.#sticky++ % count;
        sticky.set(r.topic, partition);
      }
      const message: Outgoing = {
        topic: r.topic,
        partition,
        timestamp: r.timestamp === undefined ? now : BigInt(r.timestamp),
      };
      if (headers) message.headers = headers;
      if (r.key != null) message.key = r.key;
      if (r.value !== null) message.value = r.value;
      requests.add(message, size);
    }
    return requests.done();
  }

  /** Kafka answers with each partition's base offset; a partition's records follow in send order. */
  metadata(
    messages: Outgoing[],
    offsets: Array<{ topic: string; partition: number; offset: bigint }>,
  ): RecordMetadata[] {
    const next = new Map<string, number[]>();
    for (const o of offsets) {
      let topic = next.get(o.topic);
      if (!topic) next.set(o.topic, (topic = []));
      topic[o.partition] = Number(o.offset);
    }
    const out = new Array<RecordMetadata>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const { topic, partition } = messages[i] as { topic: string; partition: number };
      const bases = next.get(topic);
      const offset = bases?.[partition] ?? -1;
      if (bases && offset >= 0) bases[partition] = offset + 1;
      out[i] = { topic, partition, offset };
    }
    return out;
  }

  async beginTransaction(): Promise<Transaction> {
    this.#checkOpen();
    if (!this.transactionalId)
      throw new InvalidTransactionStateError(
        'beginTransaction() needs a producer made with a transactionalId',
      );
    if (this.#open)
      throw new InvalidTransactionStateError(
        'This producer already has a transaction open: commit or abort it first',
      );
    try {
      const txn = await this.client.beginTransaction();
      this.#open = new KafkaTransaction(this.#bus, this, txn, () => {
        this.#open = null;
      });
      return this.#open;
    } catch (error) {
      throw toKappaError(error, { transactionalId: this.transactionalId });
    }
  }

  #checkOpen(): void {
    if (this.#closed || this.#bus.closed) throw new BusClosedError('producer');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#open) await this.#open.abort().catch(() => {});
    await this.client.close(true).catch(() => {});
    this.#bus.untrack(this);
  }
}

type PlatformaticTransaction = Awaited<
  ReturnType<PlatformaticProducer<Buffer, Buffer, Buffer, Buffer>['beginTransaction']>
>;

/** A Kafka transaction: records and a group's offsets committed atomically by the transaction coordinator. */
class KafkaTransaction implements Transaction {
  readonly #bus: KafkaBus;
  readonly #producer: KafkaProducer;
  readonly #txn: PlatformaticTransaction;
  readonly #onEnd: () => void;
  /** The offsets sent per group, by partition (the last one sent counts), to see them applied after the commit. */
  readonly #offsets = new Map<string, Map<string, number>>();
  /** The offsets of the records sent, in send order, for commit() to return. */
  readonly #sent: RecordMetadata[] = [];
  /** What was sent, for the append events once it commits (only while someone listens). */
  readonly #requests: Outgoing[][] = [];
  /** Whether anything went to the coordinator: an untouched transaction ends without EndTxn. */
  #touched = false;
  #ended = false;

  constructor(bus: KafkaBus, producer: KafkaProducer, txn: PlatformaticTransaction, onEnd: () => void) {
    this.#bus = bus;
    this.#producer = producer;
    this.#txn = txn;
    this.#onEnd = onEnd;
  }

  async send(records: ProducerRecord[]): Promise<void> {
    this.#checkOpen();
    for (const messages of await this.#producer.prepare(records)) {
      this.#touched = true;
      const result = await this.#txn.send({ messages }).catch((e) => {
        throw toKappaError(e, { transactionalId: this.#producer.transactionalId! });
      });
      for (const m of this.#producer.metadata(messages, result.offsets ?? [])) this.#sent.push(m);
      if (appended.hasSubscribers) this.#requests.push(messages);
    }
  }

  async sendOffsets(member: string | GroupMetadata, offsets: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const group = groupOf(member);
    // Generation -1 and no member id commit for the group without fencing (Kafka's
    // sendOffsetsToTransaction(offsets, groupId)); a member's metadata fences them to it (KIP-447).
    const { generation, memberId } = typeof member === 'string' ? { generation: -1, memberId: '' } : member;
    try {
      this.#touched = true;
      if (!this.#offsets.has(group)) {
        // addConsumer only reads the group id: it adds the group's offsets partition to the transaction.
        await this.#txn.addConsumer({ groupId: group } as never);
        this.#offsets.set(group, new Map());
      }
      const sent = this.#offsets.get(group)!;
      for (const o of offsets) sent.set(tpKey(o.topic, o.partition), o.offset);
      await commitTransactionOffsets(
        this.#producer.client,
        this.#producer.transactionalId!,
        await this.#bus.groupCoordinator(group),
        { group, generation, memberId },
        offsets,
      );
    } catch (error) {
      const failure = toKappaError(error, {
        transactionalId: this.#producer.transactionalId!,
        group,
        generation,
      });
      if (!(failure instanceof GroupFencedError)) this.#bus.forgetGroupCoordinator(group);
      // A fenced member's transaction must not commit anything: end it here, as the contract says.
      if (failure instanceof GroupFencedError) await this.abort().catch(() => {});
      throw failure;
    }
  }

  async commit(): Promise<RecordMetadata[]> {
    this.#checkOpen();
    this.#ended = true;
    if (!this.#touched) {
      await this.#endEmpty();
      return [];
    }
    try {
      await this.#txn.commit();
    } catch (error) {
      await this.#txn.abort().catch(() => this.#txn.cancel().catch(() => {}));
      throw toKappaError(error, { transactionalId: this.#producer.transactionalId! });
    } finally {
      this.#onEnd();
    }
    publishAppended(this.#requests);
    await this.#offsetsApplied();
    return this.#sent;
  }

  /**
   * EndTxn answers once the commit is decided; the markers that apply its offsets reach the group's
   * coordinator a few milliseconds later, and until then an OffsetFetch, even with require_stable,
   * can still return the old offsets (seen with Kafka 4.1). A task that commits and then hands its
   * partitions over (or crashes) must not let the next owner resume from before this transaction, so
   * the commit resolves only once its offsets read back.
   */
  async #offsetsApplied(): Promise<void> {
    // Past the deadline the commit still stands (it was decided): waiting longer is all that is lost.
    const deadline = Date.now() + (this.#bus.options.timeoutMs ?? 5000);
    for (const [group, sent] of this.#offsets) {
      for (let attempt = 1; Date.now() < deadline; attempt++) {
        const committed = new Map(
          (await this.#bus.committedOffsets(group)).map((o) => [tpKey(o.topic, o.partition), o.offset]),
        );
        if ([...sent].every(([key, offset]) => committed.get(key) === offset)) break;
        await new Promise((resolve) => setTimeout(resolve, 2 * attempt));
      }
    }
  }

  async abort(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#touched) return this.#endEmpty();
    try {
      await this.#txn.abort();
    } catch (error) {
      // The producer must not stay stuck in a transaction the coordinator no longer knows.
      await this.#txn.cancel().catch(() => {});
      throw toKappaError(error, { transactionalId: this.#producer.transactionalId! });
    } finally {
      this.#onEnd();
    }
  }

  /**
   * Nothing was sent, so the coordinator never heard of this transaction and EndTxn would be refused
   * (INVALID_TXN_STATE): it ends here, as Kafka's Java producer ends an empty one.
   */
  async #endEmpty(): Promise<void> {
    try {
      await this.#txn.cancel();
    } finally {
      this.#onEnd();
    }
  }

  #checkOpen(): void {
    if (this.#bus.closed) throw new BusClosedError('producer');
    if (this.#ended) throw new InvalidTransactionStateError('The transaction has ended');
  }
}
