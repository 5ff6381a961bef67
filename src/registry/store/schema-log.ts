import {
  type ConsumedRecord,
  ErrorCodes,
  isKappaError,
  type Logger,
  type ProducerRecord,
  silentLogger,
} from '../../core/index.ts';
import { type Bus, type Consumer, ensureTopic, type Producer, type Transaction } from '../../log/index.ts';
import { RegistryErrors } from '../errors.ts';
import { RegistryState } from './registry-state.ts';
import { decodeRecord, encodeKey, encodeValue, type SchemaRecord, SkippedRecord } from './schema-records.ts';

export interface SchemaLogOptions {
  bus: Bus;
  /** Default `_schemas`, the topic Confluent's registry uses. */
  topic?: string;
  logger?: Logger;
  /** How long a write may keep losing races to other registries before it gives up. Default 30 s. */
  writeTimeoutMs?: number;
}

/** What a write decided: the records to append and the answer to give once they are read back. */
export interface WritePlan<T> {
  records: SchemaRecord[];
  result: T;
}

/**
 * The registry's state, kept in a compacted one-partition topic and folded into memory by a reader
 * that follows it, so every registry process sharing the topic converges on the same state.
 *
 * Writes are serialized across processes without a leader: every writer uses the same transactional
 * id, so beginning a write fences any other registry that began one earlier. The writer then reads
 * the topic to its end (a NOOP record it appends itself marks the end), decides on ids and versions
 * from what it has read, and commits. A registry that was fenced in between has its transaction
 * aborted, reads again and decides again, so two processes never hand out one id to two schemas.
 */
export class SchemaLog {
  readonly state = new RegistryState();
  readonly topic: string;
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #writeTimeoutMs: number;
  #consumer: Consumer | null = null;
  #plain: Producer | null = null;
  #transactional: Producer | null = null;
  /** The offset after the last record folded into `state`. */
  #applied = 0;
  #waiters: Array<{ offset: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  #closed = false;
  /**
   * The exact key bytes seen for each config and mode: compaction matches keys by bytes, and other
   * registries write the global ones in other forms, so a deletion tombstones every form seen.
   */
  readonly #settingKeys = new Map<string, Set<string>>();
  #refreshing: Promise<void> | null = null;
  #refreshedAt = 0;
  /** Writes of this process run one at a time; other processes are kept out by fencing. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SchemaLogOptions) {
    this.#bus = options.bus;
    this.topic = options.topic ?? '_schemas';
    this.#logger = options.logger ?? silentLogger;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
  }

  /** Creates the topic if needed and reads it to its end. */
  async start(): Promise<void> {
    await this.#ensureTopic();
    this.#consumer = this.#bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
    await this.#consumer.assign([{ topic: this.topic, partition: 0, offset: 0 }]);
    this.#plain = this.#bus.producer();
    this.#tail = this.#follow();
    await this.sync();
  }

  /** Resolves once everything committed to the topic before this call is in `state`. */
  async sync(): Promise<void> {
    const [marker] = await this.#plain!.send([
      { topic: this.topic, key: encodeKey({ kind: 'NOOP' }), value: null },
    ]);
    await this.#reach(marker!.offset + 1);
  }

  /**
   * Like `sync`, for reads that missed (an id another registry just handed out): concurrent callers
   * share one sync, and one that finished in the last 100 ms counts, so a flood of lookups for ids
   * that do not exist cannot flood the log with markers.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    if (Date.now() - this.#refreshedAt < 100) return Promise.resolve();
    this.#refreshing = this.sync().finally(() => {
      this.#refreshedAt = Date.now();
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * Runs `plan` on the state as it is when no other registry can commit before this one, appends
   * what it returns, and resolves with its result once the records are read back. `plan` may throw
   * (an invalid request): nothing is appended then.
   */
  write<T>(plan: (state: RegistryState) => WritePlan<T>): Promise<T> {
    const run = this.#queue.then(() => this.#write(plan));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #write<T>(plan: (state: RegistryState) => WritePlan<T>): Promise<T> {
    const deadline = Date.now() + this.#writeTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.#transactional ??= this.#bus.producer({ transactionalId: `kappa-registry:${this.topic}` });
      const producer = this.#transactional;
      let txn: Transaction | undefined;
      let decision: WritePlan<T>;
      try {
        txn = await producer.beginTransaction();
        await this.sync();
        try {
          decision = plan(this.state);
        } catch (refused) {
          // The request's own fault (an invalid or incompatible schema...): nothing to retry.
          await txn.abort().catch(() => {});
          throw new Refused(refused);
        }
        if (decision.records.length > 0) {
          await txn.send(decision.records.flatMap((r) => this.#encode(r)));
          await txn.commit();
          await this.sync();
        } else await txn.abort();
        return decision.result;
      } catch (error) {
        if (error instanceof Refused) throw error.reason;
        await txn?.abort().catch(() => {});
        // Fenced by another registry that began a write after this one, or the bus failed under the
        // write (a coordinator moving, a commit whose outcome is unknown): take the id back, read
        // again and decide again. A commit that did land is found by the new decision.
        if (!isKappaError(error) || !(error.code === ErrorCodes.PRODUCER_FENCED || error.retriable))
          throw error;
        this.#transactional = null;
        await producer.close().catch(() => {});
        if (Date.now() > deadline)
          throw RegistryErrors.timeout(
            `Gave up after ${attempt} attempts to write to ${this.topic}: ${(error as Error).message}`,
          );
        this.#logger.debug({ attempt, err: error }, 'schema registry write retried');
        await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt, 10)));
      }
    }
  }

  #encode(record: SchemaRecord): ProducerRecord[] {
    const key = encodeKey(record);
    const value = encodeValue(record);
    const forms =
      (record.kind === 'CONFIG' || record.kind === 'MODE') && value === null
        ? this.#settingKeys.get(settingOf(record))
        : undefined;
    const keys = new Set([key.toString('utf8'), ...(forms ?? [])]);
    return [...keys].map((k) => ({ topic: this.topic, partition: 0, key: Buffer.from(k), value }));
  }

  async #ensureTopic(): Promise<void> {
    const description = await ensureTopic(this.#bus, this.topic, { partitions: 1, compacted: true });
    if (description.partitions !== 1 || !description.compacted)
      this.#logger.warn(
        { topic: this.topic, ...description },
        'the schemas topic should be compacted with one partition',
      );
  }

  async #follow(): Promise<void> {
    const consumer = this.#consumer!;
    let failures = 0;
    while (!this.#closed) {
      let records: ConsumedRecord[];
      try {
        records = await consumer.poll({ timeoutMs: 500, maxRecords: 1000 });
        failures = 0;
      } catch (error) {
        if (this.#closed) return;
        // A broker going away is waited out: reads go on from memory, and writes wait for the log.
        if (isKappaError(error) && error.retriable) {
          if (failures++ === 0)
            this.#logger.warn(
              { err: error, topic: this.topic },
              'reading the schemas topic failed; retrying',
            );
          await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)));
          continue;
        }
        this.#failure = error;
        this.#logger.error({ err: error, topic: this.topic }, 'stopped following the schemas topic');
        for (const w of this.#waiters)
          w.reject(RegistryErrors.storeError(`reading ${this.topic} failed`, error));
        this.#waiters = [];
        return;
      }
      for (const r of records) this.#apply(r);
      if (records.length > 0) this.#settle();
    }
  }

  #apply(r: ConsumedRecord): void {
    const decoded = decodeRecord(r.key, r.value);
    if (!(decoded instanceof SkippedRecord) && (decoded.kind === 'CONFIG' || decoded.kind === 'MODE')) {
      const forms = this.#settingKeys.get(settingOf(decoded)) ?? new Set<string>();
      this.#settingKeys.set(settingOf(decoded), forms.add(r.key!.toString('utf8')));
    }
    const skipped = decoded instanceof SkippedRecord ? decoded.reason : this.state.apply(decoded);
    if (skipped !== null) this.#logger.warn({ topic: this.topic, offset: r.offset }, `skipped ${skipped}`);
    this.#applied = r.offset + 1;
  }

  #reach(offset: number): Promise<void> {
    if (this.#failure)
      return Promise.reject(RegistryErrors.storeError(`reading ${this.topic} failed`, this.#failure));
    if (this.#applied >= offset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Not forever: a log that cannot be read answers 50002 rather than a request that never ends.
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          RegistryErrors.timeout(
            `Reading ${this.topic} to offset ${offset} took over ${this.#writeTimeoutMs} ms`,
          ),
        );
      }, this.#writeTimeoutMs);
      const waiter = {
        offset,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #settle(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (w.offset > this.#applied) return true;
      w.resolve();
      return false;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters) w.reject(RegistryErrors.storeError('the registry is closing'));
    this.#waiters = [];
    await this.#transactional?.close().catch(() => {});
    await this.#plain?.close().catch(() => {});
    await this.#consumer?.close().catch(() => {});
    await this.#tail;
  }
}

/** An error `plan` threw: the request's, passed on as it is. */
class Refused {
  readonly reason: unknown;
  constructor(reason: unknown) {
    this.reason = reason;
  }
}

const settingOf = (record: { kind: string; subject: string | null }) =>
  `${record.kind}:${record.subject ?? ''}`;
