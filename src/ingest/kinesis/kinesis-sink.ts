import { setTimeout as sleep } from 'node:timers/promises';
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { ConsumedRecord, Logger } from '../../core/index.ts';
import type { Bus, Consumer } from '../../log/index.ts';
import { type KinesisConnection, kinesisClient } from './kinesis-client.ts';

export interface KinesisSinkOptions extends KinesisConnection {
  name: string;
  /** The bus topic whose records are put into the stream. */
  topic: string;
  stream: string;
  bus: Bus;
  logger: Logger;
  /** For tests and metrics: the client the sink puts with. Default: one made from the connection. */
  client?: KinesisClient;
}

/** PutRecords takes at most 500 entries and 5 MiB in one call. */
const MAX_ENTRIES = 500;
const MAX_BYTES = 5 * 1024 * 1024;

/**
 * Puts a bus topic's records into a Kinesis stream, as a consumer group of its own: a poll's records
 * go out with PutRecords (partition key: the record key, else its partition), only the entries the
 * stream refused are sent again (throttled shards, internal errors) with backoff, and the group's
 * offsets are committed once every entry is in. At least once: Kinesis has no transactions, so a
 * crash between a put and its commit puts those records again, and the stream's readers see them
 * twice.
 */
export class KinesisSink {
  readonly #o: KinesisSinkOptions;
  readonly #client: KinesisClient;
  #consumer: Consumer | null = null;
  #loop: Promise<void> | null = null;
  readonly #stop = new AbortController();

  constructor(options: KinesisSinkOptions) {
    this.#o = options;
    this.#client = options.client ?? kinesisClient(options);
  }

  get name(): string {
    return this.#o.name;
  }

  async start(): Promise<void> {
    this.#consumer = this.#o.bus.consumer({ group: `kappa-kinesis-sink-${this.#o.name}`, reset: 'earliest' });
    await this.#consumer.subscribe([this.#o.topic]);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#consumer?.close().catch(() => {});
    if (!this.#o.client) this.#client.destroy();
  }

  async #run(): Promise<void> {
    const consumer = this.#consumer!;
    while (!this.#stop.signal.aborted) {
      try {
        const records = await consumer.poll({
          maxRecords: MAX_ENTRIES * 4,
          timeoutMs: 500,
          signal: this.#stop.signal,
        });
        if (records.length === 0) continue;
        await this.#put(records);
        await consumer.commit();
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#o.logger.warn(
          { err: error, sink: this.#o.name },
          'Kinesis sink failed; reading again from the committed offsets',
        );
        // What was not committed is read again: close and subscribe anew at the group's offsets.
        await consumer.close().catch(() => {});
        this.#consumer = this.#o.bus.consumer({
          group: `kappa-kinesis-sink-${this.#o.name}`,
          reset: 'earliest',
        });
        await this.#consumer.subscribe([this.#o.topic]);
        return this.#run();
      }
    }
  }

  /**
   * Every record in: refused entries are sent again, the rest not. As with any PutRecords, a refused
   * entry lands after the entries of its call that went in, also those of its partition key.
   */
  async #put(records: ConsumedRecord[]): Promise<void> {
    let pending: PutRecordsRequestEntry[] = records
      .filter((r) => r.value !== null)
      .map((r) => ({ Data: r.value!, PartitionKey: r.key?.toString('utf8') || `partition-${r.partition}` }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      const refused: PutRecordsRequestEntry[] = [];
      for (const chunk of chunks(pending)) {
        const answer = await this.#client.send(
          new PutRecordsCommand({ StreamName: this.#o.stream, Records: chunk }),
        );
        if (!answer.FailedRecordCount) continue;
        (answer.Records ?? []).forEach((r, i) => {
          if (r.ErrorCode) refused.push(chunk[i]!);
        });
      }
      if (refused.length > 0) {
        this.#o.logger.debug(
          { sink: this.#o.name, refused: refused.length },
          'Kinesis refused entries; sending them again',
        );
        await sleep(Math.min(100 * 2 ** attempt, 5000), undefined, { signal: this.#stop.signal });
      }
      pending = refused;
    }
  }
}

function chunks(entries: PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  const out: PutRecordsRequestEntry[][] = [];
  let current: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = (e.Data as Uint8Array).length + e.PartitionKey!.length;
    if (current.length === MAX_ENTRIES || (current.length > 0 && bytes + size > MAX_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
