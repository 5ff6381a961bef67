import { setTimeout as sleep } from 'node:timers/promises';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { Logger, ProducerRecord } from '../../core/index.ts';
import { type Bus, ensureTopic, type Producer } from '../../log/index.ts';
import { readSourceState, sourceStateRecord } from '../source-state.ts';
import { type KinesisConnection, kinesisClient } from './kinesis-client.ts';

export const KINESIS_STATE_TOPIC = 'kappa-kinesis-state';

export interface KinesisSourceOptions extends KinesisConnection {
  name: string;
  stream: string;
  /** The bus topic the stream's records are written to, keyed by their partition key. */
  topic: string;
  partitions: number;
  /** Where a shard with no position yet starts: its oldest record (default) or new records only. */
  from: 'earliest' | 'latest';
  bus: Bus;
  logger: Logger;
  /** Wait between reads of a stream with nothing new. Default 1 s. */
  pollIntervalMs?: number;
}

/** Per shard: the sequence number of the last record on the bus, and whether it is read to its end. */
interface KinesisState {
  shards: Record<string, { after: string | null; done: boolean }>;
}

/**
 * Copies a Kinesis stream into a bus topic, exactly once: every bus transaction holds what one round
 * of reads got from each shard and the sequence numbers it reached (kappa-kinesis-state), and a
 * restart reads on after them. Records keep their partition key as key, so a key stays on one
 * partition of the topic; after a reshard a child shard is read only once its parents are read to
 * their end, so each key's records stay in order.
 */
export class KinesisSource {
  readonly #o: KinesisSourceOptions;
  readonly #client: KinesisClient;
  #producer: Producer | null = null;
  #loop: Promise<void> | null = null;
  readonly #stop = new AbortController();
  /** Iterators of the shards being read, by shard id. */
  readonly #iterators = new Map<string, string>();

  constructor(options: KinesisSourceOptions) {
    this.#o = options;
    this.#client = kinesisClient(options);
  }

  get name(): string {
    return this.#o.name;
  }

  async start(): Promise<void> {
    await ensureTopic(this.#o.bus, this.#o.topic, { partitions: this.#o.partitions });
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#producer?.close().catch(() => {});
    this.#client.destroy();
  }

  async #run(): Promise<void> {
    let backoff = 1000;
    while (!this.#stop.signal.aborted) {
      try {
        await this.#read();
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#o.logger.warn(
          { err: error, source: this.#o.name, retryInMs: backoff },
          'Kinesis source failed; retrying',
        );
        await this.#producer?.close().catch(() => {});
        this.#producer = null;
        this.#iterators.clear();
        await sleep(backoff, undefined, { signal: this.#stop.signal }).catch(() => {});
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** Reads rounds until stopped: one GetRecords per readable shard, one bus transaction per round. */
  async #read(): Promise<void> {
    const { bus, name } = this.#o;
    const state = (await readSourceState<KinesisState>(bus, KINESIS_STATE_TOPIC, name)) ?? { shards: {} };
    this.#producer = bus.producer({ transactionalId: `kappa-kinesis-${name}` });
    let shards = await this.#shards();
    while (!this.#stop.signal.aborted) {
      const records: ProducerRecord[] = [];
      let closed = false;
      for (const shard of this.#readable(shards, state)) {
        const got = await this.#getRecords(shard.ShardId!, state);
        const position = (state.shards[shard.ShardId!] ??= { after: null, done: false });
        for (const r of got.records) {
          records.push({
            topic: this.#o.topic,
            key: Buffer.from(r.PartitionKey!),
            value: Buffer.from(r.Data ?? new Uint8Array()),
            timestamp: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
            headers: {
              'kinesis.shard': Buffer.from(shard.ShardId!),
              'kinesis.sequence': Buffer.from(r.SequenceNumber!),
            },
          });
          position.after = r.SequenceNumber!;
        }
        if (got.closed) {
          position.done = true;
          closed = true;
          this.#iterators.delete(shard.ShardId!);
        }
      }
      if (records.length > 0 || closed) await this.#commit(records, state);
      if (closed) shards = await this.#shards();
      else if (records.length === 0) {
        await sleep(this.#o.pollIntervalMs ?? 1000, undefined, { signal: this.#stop.signal }).catch(() => {});
        shards = await this.#shards();
      }
    }
  }

  /** Shards not read to their end whose parents are (or have expired from the stream). */
  #readable(shards: Shard[], state: KinesisState): Shard[] {
    const listed = new Set(shards.map((s) => s.ShardId));
    const finished = (id: string | undefined) => !id || !listed.has(id) || state.shards[id]?.done === true;
    return shards.filter(
      (s) =>
        !state.shards[s.ShardId!]?.done && finished(s.ParentShardId) && finished(s.AdjacentParentShardId),
    );
  }

  async #getRecords(shardId: string, state: KinesisState) {
    for (let attempt = 0; ; attempt++) {
      let iterator = this.#iterators.get(shardId);
      if (!iterator) {
        const after = state.shards[shardId]?.after ?? null;
        const { ShardIterator } = await this.#client.send(
          new GetShardIteratorCommand({
            StreamName: this.#o.stream,
            ShardId: shardId,
            ...(after
              ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }
              : { ShardIteratorType: this.#o.from === 'latest' ? 'LATEST' : 'TRIM_HORIZON' }),
          }),
        );
        iterator = ShardIterator!;
      }
      try {
        const got = await this.#client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        if (got.NextShardIterator) this.#iterators.set(shardId, got.NextShardIterator);
        return { records: got.Records ?? [], closed: !got.NextShardIterator };
      } catch (error) {
        // An iterator lives five minutes: a new one from the position on the bus.
        if (!(error instanceof ExpiredIteratorException) || attempt > 0) throw error;
        this.#iterators.delete(shardId);
      }
    }
  }

  async #shards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.#o.stream }),
      );
      shards.push(...(page.Shards ?? []));
      token = page.NextToken;
    } while (token);
    return shards;
  }

  async #commit(records: ProducerRecord[], state: KinesisState): Promise<void> {
    const txn = await this.#producer!.beginTransaction();
    try {
      await txn.send([...records, sourceStateRecord(KINESIS_STATE_TOPIC, this.#o.name, state)]);
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => {});
      throw error;
    }
  }
}
