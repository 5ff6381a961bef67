import type { Delivered, EncodedRecord, Pending, Transport } from './record-batch.ts';

export interface BatchOptions {
  /** How long a record may wait for others to fill its batch. Default 5 ms. */
  lingerMs: number;
  /** A batch is sent once it holds this many records. Default 10,000 (the server's default limit per request). */
  batchRecords: number;
  /** … or this many bytes of keys and values. Default 4 MiB. */
  batchBytes: number;
}

/**
 * Gathers records into a batch per topic and hands batches to the transport one at a time, in the
 * order they filled: one request in flight keeps every record in the order it was sent (and the
 * HTTP transport's sequence numbers in step with them).
 */
export class Batcher {
  readonly #transport: Transport;
  readonly #o: BatchOptions;
  readonly #batches = new Map<string, { pending: Pending[]; bytes: number; timer: NodeJS.Timeout | null }>();
  #chain: Promise<void> = Promise.resolve();

  constructor(transport: Transport, options: BatchOptions) {
    this.#transport = transport;
    this.#o = options;
  }

  add(topic: string, record: EncodedRecord): Promise<Delivered> {
    return new Promise((resolve, reject) => {
      let batch = this.#batches.get(topic);
      if (!batch) {
        batch = { pending: [], bytes: 0, timer: null };
        this.#batches.set(topic, batch);
      }
      const bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
      batch.pending.push({ record, resolve, reject });
      batch.bytes += bytes;
      if (batch.pending.length >= this.#o.batchRecords || batch.bytes >= this.#o.batchBytes)
        this.#send(topic);
      else batch.timer ??= setTimeout(() => this.#send(topic), this.#o.lingerMs);
    });
  }

  /** Sends every batch now; resolves once all sent so far are delivered (or failed). */
  async flush(): Promise<void> {
    for (const topic of [...this.#batches.keys()]) this.#send(topic);
    await this.#chain;
  }

  #send(topic: string): void {
    const batch = this.#batches.get(topic);
    if (!batch || batch.pending.length === 0) return;
    this.#batches.delete(topic);
    if (batch.timer) clearTimeout(batch.timer);
    const { pending } = batch;
    this.#chain = this.#chain.then(async () => {
      try {
        const delivered = await this.#transport.send(
          topic,
          pending.map((p) => p.record),
        );
        for (const [i, p] of pending.entries()) p.resolve(delivered[i]!);
      } catch (error) {
        for (const p of pending) p.reject(error as Error);
      }
    });
  }
}
