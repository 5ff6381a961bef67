import { randomUUID } from 'node:crypto';
import type { ProducerRecord, RecordMetadata } from '../core/index.ts';
import { type Bus, type Consumer, ensureTopic, type Producer } from '../log/index.ts';
import { RequestError } from './errors.ts';

/**
 * Where each idempotent HTTP producer is: the sequence number of its last request that was
 * appended, kept in a compacted topic keyed by producer id and written in the same bus transaction
 * as the request's records. A retried request (the same id and sequence: the answer was lost, the
 * connection dropped, the client timed out) is answered without appending again, also after Kappa
 * restarted or when the retry reaches another Kappa process on the same bus.
 */
export const PRODUCER_STATE_TOPIC = 'kappa-producer-state';

interface ProducerState {
  sequence: number;
  records: number;
}

export interface IdempotentAnswer {
  /** The request's offsets; for a duplicate whose first answer this process no longer holds, null. */
  offsets: RecordMetadata[] | null;
  duplicate: boolean;
}

/** `Kappa-Producer-Id` and `Kappa-Sequence`, checked. */
export function producerHeaders(headers: Record<string, string | string[] | undefined>): {
  id: string;
  sequence: number;
} | null {
  const id = headers['kappa-producer-id'];
  const sequence = headers['kappa-sequence'];
  if (id === undefined && sequence === undefined) return null;
  if (typeof id !== 'string' || !/^[\w.:-]{1,200}$/.test(id))
    throw new RequestError(422, 422, 'Kappa-Producer-Id must be 1-200 letters, digits, ".", ":", "_" or "-"');
  const n = Number(sequence);
  if (typeof sequence !== 'string' || !/^\d{1,15}$/.test(sequence) || !Number.isSafeInteger(n))
    throw new RequestError(422, 422, 'Kappa-Sequence must be a non-negative integer, with Kappa-Producer-Id');
  return { id, sequence: n };
}

export class IdempotentProduce {
  readonly #bus: Bus;
  #producer: Producer | null = null;
  /** Each producer's state as last seen here, with the offsets of its last request when appended here. */
  readonly #known = new Map<string, ProducerState & { offsets: RecordMetadata[] | null }>();
  /** One request at a time per producer id, and one transaction at a time for the producer. */
  readonly #locks = new Map<string, Promise<unknown>>();
  #transactions: Promise<unknown> = Promise.resolve();
  #ready: Promise<void> | null = null;
  /** Reads the state topic onward from `#position`, for what other processes appended. */
  #follower: Consumer | null = null;
  #position = 0;
  #following: Promise<void> = Promise.resolve();

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  /** Appends `records` unless this producer's request `sequence` was appended already. */
  append(producerId: string, sequence: number, records: ProducerRecord[]): Promise<IdempotentAnswer> {
    const previous = this.#locks.get(producerId) ?? Promise.resolve();
    const run = previous.then(() => this.#append(producerId, sequence, records));
    const settled = run.catch(() => {});
    this.#locks.set(producerId, settled);
    void settled.then(() => {
      if (this.#locks.get(producerId) === settled) this.#locks.delete(producerId);
    });
    return run;
  }

  async close(): Promise<void> {
    await this.#transactions.catch(() => {});
    await this.#following;
    await this.#follower?.close();
    await this.#producer?.close();
  }

  async #append(producerId: string, sequence: number, records: ProducerRecord[]): Promise<IdempotentAnswer> {
    await (this.#ready ??= ensureTopic(this.#bus, PRODUCER_STATE_TOPIC, {
      partitions: 1,
      compacted: true,
    }).then(() => {}));
    let known = this.#known.get(producerId);
    if (known && sequence === known.sequence) return { offsets: known.offsets, duplicate: true };
    // Another process may have appended for this producer since: what the topic says is the truth.
    if (!known || sequence !== known.sequence + 1) {
      await this.#catchUp();
      known = this.#known.get(producerId);
    }
    if (known && sequence === known.sequence) return { offsets: known.offsets, duplicate: true };
    if (known && sequence < known.sequence)
      throw new RequestError(
        409,
        40901,
        `Producer ${producerId} sent request ${sequence} after request ${known.sequence}: sequences must rise (a new producer id starts again at 0)`,
      );
    const state: ProducerState = { sequence, records: records.length };
    const stateRecord: ProducerRecord = {
      topic: PRODUCER_STATE_TOPIC,
      key: Buffer.from(producerId),
      value: Buffer.from(JSON.stringify(state)),
    };
    const committed = this.#transactions.then(async () => {
      this.#producer ??= this.#bus.producer({ transactionalId: `kappa-http-${randomUUID()}` });
      const txn = await this.#producer.beginTransaction();
      try {
        await txn.send([...records, stateRecord]);
        return (await txn.commit()).slice(0, records.length);
      } catch (error) {
        await txn.abort().catch(() => {});
        throw error;
      }
    });
    this.#transactions = committed.catch(() => {});
    const offsets = await committed;
    this.#known.set(producerId, { ...state, offsets });
    return { offsets, duplicate: false };
  }

  /**
   * Brings what is known up to the state topic's end, reading only what it gained since the last
   * time (one follower for all producers, not a read of the whole topic per unknown producer).
   */
  #catchUp(): Promise<void> {
    const next = this.#following.then(async () => {
      const end = (await this.#bus.partitionOffsets(PRODUCER_STATE_TOPIC))[0]!.end;
      if (this.#position >= end) return;
      if (!this.#follower) {
        this.#follower = this.#bus.consumer({ isolation: 'read_committed', reset: 'earliest' });
        await this.#follower.assign([{ topic: PRODUCER_STATE_TOPIC, partition: 0, offset: this.#position }]);
      }
      while (this.#position < end) {
        for (const r of await this.#follower.poll({ maxRecords: 5000, timeoutMs: 200 })) {
          if (r.key === null || r.value === null) continue;
          const id = r.key.toString('utf8');
          const state = JSON.parse(r.value.toString('utf8')) as ProducerState;
          // Our own appends are known already, with their offsets.
          if (this.#known.get(id)?.sequence !== state.sequence)
            this.#known.set(id, { ...state, offsets: null });
        }
        this.#position = this.#follower.position(PRODUCER_STATE_TOPIC, 0) ?? this.#position;
      }
    });
    // A failed read fails its request; the next one tries again.
    this.#following = next.catch(() => {});
    return next;
  }
}
