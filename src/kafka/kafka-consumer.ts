import { randomUUID } from 'node:crypto';
import {
  COOPERATIVE_STICKY_ASSIGNOR,
  FetchIsolationLevels,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import {
  BusClosedError,
  type ConsumedRecord,
  type Headers,
  InvalidArgumentError,
  type TopicPartition,
  type TopicPartitionOffset,
  toMillis,
  tpKey,
  UnknownPartitionError,
} from '../core/index.ts';
import type { Consumer, ConsumerOptions, GroupMetadata, PollOptions } from '../log/index.ts';
import { POSITION_MARKER } from './aborted-records.ts';
import { carriedRecords, isPositionMarker, positionMarker } from './fetch-records.ts';
import { GroupMember } from './group-member.ts';
import type { KafkaBus } from './kafka-bus.ts';
import { toKappaError } from './kafka-errors.ts';
import { connectionOptions } from './kafka-options.ts';

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/**
 * Fetch sizes. The client's defaults (50 MB a fetch, and as much per partition) make responses of
 * tens of MB, which it parses through a reader over the socket's chunks, at a cost that grows faster
 * than the response: one fetch of 476,000 100-byte records took 4 s, and the consumer read 100,000
 * records/s. A quarter MiB per partition (the Java client takes 1 MiB) keeps each response to a few
 * chunks: about 550,000 records/s on the same broker (`npm run bench -- bus`).
 */
const FETCH_PARTITION_MAX_BYTES = 256 * 1024;
const FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** Above this many buffered records the stream is paused until poll() drains it. */
const HIGH_WATER = 20_000;

interface Position extends TopicPartition {
  /** The next offset poll() returns, or null until the first record (the group's committed offset). */
  offset: number | null;
}

/**
 * Shorter than the Java client's 45 s so a dead worker's partitions move on quickly; the broker accepts
 * 6 s to 30 min (group.min/max.session.timeout.ms).
 */
const DEFAULT_SESSION_TIMEOUT = '10s';

/**
 * The contract's poll-based consumer over @platformatic/kafka's message stream: the stream fills a
 * buffer, poll() takes from it, positions are tracked here. `assign` reads given partitions from
 * given offsets through a private, single-member group that never commits.
 *
 * Group members rebalance cooperatively (cooperative-sticky, KIP-429): a member keeps what it keeps
 * through a rebalance, and a partition moves in two steps: its owner gives it up (onRevoked, then it
 * rejoins) and only the rebalance after that hands it to the new owner. onRevoked runs before this
 * member's JoinGroup (see group-member.ts), so the group cannot complete the hand-over until it has
 * returned: commits made there are seen by the next owner.
 */
export class KafkaConsumer implements Consumer {
  readonly #bus: KafkaBus;
  readonly #options: ConsumerOptions;
  readonly #client: GroupMember;
  #stream: Stream | null = null;
  #buffer: ConsumedRecord[] = [];
  /** Owned partitions and the next offset poll() returns for each. */
  readonly #positions = new Map<string, Position>();
  /** The position #accept used last; null whenever the owned partitions change. */
  #lastOwned: Position | null = null;
  readonly #wakers = new Set<() => void>();
  #chain: Promise<unknown> = Promise.resolve();
  /** Every stream ever started: seek() detaches the current one before #restartManual stops it. */
  readonly #streams = new Set<Stream>();
  #mode: 'none' | 'subscribed' | 'assigned' = 'none';
  #closed = false;
  #failure: unknown = null;
  /** An assigned consumer's stream failed: the next poll starts a new one. */
  #broken = false;

  constructor(bus: KafkaBus, options: ConsumerOptions) {
    if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) {
      throw new InvalidArgumentError('A consumer group name must be a non-empty string');
    }
    this.#bus = bus;
    this.#options = options;
    const sessionTimeout = toMillis(options.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT);
    this.#client = new GroupMember({
      ...connectionOptions(bus.options, 'consumer'),
      groupId: options.group ?? `kappa-assign-${randomUUID()}`,
      sessionTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 5)),
      rebalanceTimeout: sessionTimeout,
      protocols: [{ name: COOPERATIVE_STICKY_ASSIGNOR, version: 3 }],
    });
    // Only group members revoke; the private group behind assign() joins from inside a stream restart,
    // which already holds the chain.
    this.#client.beforeJoin = () =>
      this.#mode === 'subscribed' ? this.#serially(() => this.#revokeLost()) : Promise.resolve();
    this.#client.requireStable = options.isolation !== 'read_uncommitted';
    this.#client.on('consumer:group:join', (payload) => {
      void this.#serially(() => this.#onJoin(payload.assignments ?? []));
    });
    // The client reports a failed rejoin here; poll() rethrows it. Closing tears connections down
    // mid-request, which is no failure.
    this.#client.on('error', (error: unknown) => {
      if (this.#closed) return;
      this.#failure = error;
      this.#wake();
    });
  }

  get isolationLevel(): number {
    return this.#options.isolation === 'read_uncommitted'
      ? FetchIsolationLevels.READ_UNCOMMITTED
      : FetchIsolationLevels.READ_COMMITTED;
  }

  async subscribe(topics: string[]): Promise<void> {
    this.#checkOpen();
    if (this.#options.group === undefined)
      throw new InvalidArgumentError(
        'subscribe() needs a consumer made with a group; use assign() without one',
      );
    if (this.#mode === 'assigned')
      throw new InvalidArgumentError('This consumer uses assign(); it cannot also subscribe');
    for (const topic of topics) await this.#bus.partitionCount(topic);
    this.#mode = 'subscribed';
    await this.#start({
      topics: [...new Set(topics)],
      mode: 'committed',
      fallbackMode: this.#options.reset ?? 'latest',
    });
  }

  async assign(partitions: Array<TopicPartition & { offset?: number }>): Promise<void> {
    this.#checkOpen();
    if (this.#mode === 'subscribed')
      throw new InvalidArgumentError('This consumer is subscribed to a group; it cannot also assign()');
    this.#mode = 'assigned';
    this.#positions.clear();
    this.#lastOwned = null;
    for (const tp of partitions) {
      const count = await this.#bus.partitionCount(tp.topic);
      if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= count)
        throw new UnknownPartitionError(tp.topic, tp.partition, count);
      this.#positions.set(tpKey(tp.topic, tp.partition), {
        topic: tp.topic,
        partition: tp.partition,
        offset: tp.offset ?? null,
      });
    }
    await this.#restartManual();
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#checkOpen();
    const owned = this.#positions.get(tpKey(topic, partition));
    if (!owned)
      throw new InvalidArgumentError(`seek(): ${topic}-${partition} is not assigned to this consumer`);
    if (this.#mode !== 'assigned')
      throw new InvalidArgumentError(
        'seek() on Kafka works with assign(); a group member resumes from committed offsets',
      );
    owned.offset = offset;
    this.#buffer = this.#buffer.filter((r) => r.topic !== topic || r.partition !== partition);
    // Nothing more from the current stream: what it has in flight was fetched from the old position.
    this.#stream = null;
    void this.#serially(() => this.#restartManual()).catch((error) => {
      this.#failure = error;
    });
  }

  /** Membership changes and stream restarts run one at a time, in the order they were asked for. */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Manual reads: the private group owns every partition of the topics; records of others are dropped. */
  async #restartManual(): Promise<void> {
    await this.#stopStream();
    this.#buffer = [];
    const owned = [...this.#positions.values()];
    if (owned.length === 0) return;
    const topics = [...new Set(owned.map((o) => o.topic))];
    const offsets: Array<{ topic: string; partition: number; offset: bigint }> = [];
    for (const topic of topics) {
      const ranges = await this.#bus.partitionOffsets(topic);
      for (const range of ranges) {
        const mine = this.#positions.get(tpKey(topic, range.partition));
        const reset = (this.#options.reset ?? 'latest') === 'earliest' ? range.start : range.end;
        const offset = mine ? (mine.offset ?? reset) : range.end;
        if (mine) mine.offset = offset;
        offsets.push({ topic, partition: range.partition, offset: BigInt(offset) });
      }
    }
    await this.#start({ topics, mode: 'manual', offsets });
  }

  async #start(options: {
    topics: string[];
    mode: 'committed' | 'manual';
    fallbackMode?: 'earliest' | 'latest';
    offsets?: Array<{ topic: string; partition: number; offset: bigint }>;
  }): Promise<void> {
    try {
      this.#stream = await this.#client.consume({
        ...options,
        autocommit: false,
        isolationLevel: this.isolationLevel,
        maxWaitTime: 200,
        maxBytes: FETCH_MAX_BYTES,
        maxBytesPerPartition: FETCH_PARTITION_MAX_BYTES,
      });
    } catch (error) {
      throw toKappaError(error, { topic: options.topics[0] ?? '' });
    }
    const stream = this.#stream;
    this.#streams.add(stream);
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      if (stream === this.#stream) this.#accept(message);
    });
    stream.on('error', (error: unknown) => {
      if (stream !== this.#stream) return;
      this.#failure = error;
      // The library's stream ends with its error (a broker going away): an assigned consumer starts a
      // new one from its positions on the next poll, so reading resumes once the broker is back.
      if (this.#mode === 'assigned') {
        this.#stream = null;
        this.#broken = true;
      }
      this.#wake();
    });
  }

  #accept(message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    // Records come in runs of one partition: its position is looked up once per run, not per record.
    let owned = this.#lastOwned;
    if (owned === null || owned.partition !== message.partition || owned.topic !== message.topic) {
      owned = this.#positions.get(tpKey(message.topic, message.partition)) ?? null;
      if (owned === null) return;
      this.#lastOwned = owned;
    }
    const carried = carriedRecords(message.value);
    if (carried !== undefined) {
      // A partition's records of one fetch, decoded by fetch-records.ts.
      const { topic, partition } = message;
      const from = owned.offset;
      for (const r of carried) {
        if (from !== null && r.offset < from) continue;
        r.topic = topic;
        r.partition = partition;
        this.#buffer.push(r);
      }
      this.#buffered();
      return;
    }
    const offset = Number(message.offset);
    if (owned.offset !== null && offset < owned.offset) return;
    const headers: Headers = {};
    if (message.headers.size > 0) {
      for (const [name, value] of message.headers) headers[name.toString()] = value ?? Buffer.alloc(0);
      if (POSITION_MARKER in headers) {
        // A transaction marker: it moves the position when taken, and is not a record.
        this.#buffer.push(positionMarker(message.topic, message.partition, offset));
        if (this.#wakers.size > 0) this.#wake();
        return;
      }
    }
    this.#buffer.push({
      topic: message.topic,
      partition: message.partition,
      offset,
      timestamp: Number(message.timestamp),
      key: message.key === undefined || message.key === null ? null : message.key,
      value: message.value === undefined || message.value === null ? null : message.value,
      headers,
    });
    this.#buffered();
  }

  /** Records were buffered: past the high water the stream pauses until poll() drains it; a waiting poll wakes. */
  #buffered(): void {
    if (this.#buffer.length > HIGH_WATER) this.#stream?.pause();
    if (this.#wakers.size > 0) this.#wake();
  }

  /**
   * Before this member (re)joins: give up the partitions the last rebalance took away (the client has
   * already narrowed its assignment to what it keeps), or all of them if the membership was lost.
   */
  async #revokeLost(): Promise<void> {
    if (this.#mode === 'subscribed') await this.#revoke(this.#outside(this.#client.assignments ?? []));
  }

  /** The owned partitions that `assignments` does not list. */
  #outside(assignments: Array<{ topic: string; partitions: number[] }>): Position[] {
    const keep = new Set(assignments.flatMap((a) => a.partitions.map((p) => tpKey(a.topic, p))));
    return [...this.#positions.values()].filter((o) => !keep.has(tpKey(o.topic, o.partition)));
  }

  async #revoke(lost: TopicPartition[]): Promise<void> {
    if (lost.length === 0) return;
    await runGroupCallback(
      this.#options.onRevoked,
      lost.map(({ topic, partition }) => ({ topic, partition })),
    );
    for (const o of lost) this.#positions.delete(tpKey(o.topic, o.partition));
    this.#lastOwned = null;
    this.#buffer = this.#buffer.filter((r) => this.#positions.has(tpKey(r.topic, r.partition)));
    this.#wake();
  }

  async #onJoin(assignments: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    if (this.#mode !== 'subscribed') return;
    await this.#revoke(this.#outside(assignments));
    const gained = assignments
      .flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })))
      .filter((tp) => !this.#positions.has(tpKey(tp.topic, tp.partition)));
    if (gained.length > 0) {
      await runGroupCallback(this.#options.onAssigned, gained);
      for (const tp of gained) this.#positions.set(tpKey(tp.topic, tp.partition), { ...tp, offset: null });
      this.#lastOwned = null;
    }
    this.#wake();
  }

  groupMetadata(): GroupMetadata {
    if (this.#mode !== 'subscribed' || this.#client.memberId === null) {
      throw new InvalidArgumentError('groupMetadata() needs a consumer that has subscribed to a group');
    }
    return {
      group: this.#client.groupId,
      generation: this.#client.generationId,
      memberId: this.#client.memberId,
    };
  }

  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    this.#checkOpen();
    const maxRecords = options.maxRecords ?? 500;
    const maxBytes = options.maxBytes ?? 1024 * 1024;
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      if (this.#failure) {
        const failure = this.#failure;
        this.#failure = null;
        throw toKappaError(failure);
      }
      if (this.#broken) {
        this.#broken = false;
        try {
          await this.#serially(() => this.#restartManual());
        } catch (error) {
          this.#broken = true;
          throw toKappaError(error);
        }
      }
      const out = this.#take(maxRecords, maxBytes);
      if (out.length > 0 || this.#closed) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted) return out;
      await this.#wait(remaining, options.signal);
    }
  }

  #take(maxRecords: number, maxBytes: number): ConsumedRecord[] {
    const out: ConsumedRecord[] = [];
    const buffer = this.#buffer;
    let bytes = 0;
    let i = 0;
    let owned: Position | undefined;
    for (; i < buffer.length; i++) {
      // Full: the rest stays, copied once below rather than record by record.
      if (out.length >= maxRecords || (out.length > 0 && bytes >= maxBytes)) break;
      const r = buffer[i]!;
      if (owned === undefined || owned.partition !== r.partition || owned.topic !== r.topic) {
        owned = this.#positions.get(tpKey(r.topic, r.partition));
        if (owned === undefined) continue;
      }
      if (owned.offset !== null && r.offset < owned.offset) continue;
      if (isPositionMarker(r)) {
        owned.offset = r.offset + 1;
        continue;
      }
      out.push(r);
      bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
      owned.offset = r.offset + 1;
    }
    this.#buffer = i === buffer.length ? [] : buffer.slice(i);
    if (this.#buffer.length < HIGH_WATER / 2 && this.#stream?.isPaused()) this.#stream.resume();
    return out;
  }

  #wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    if (this.#options.group === undefined)
      throw new InvalidArgumentError('commit() needs a consumer made with a group');
    const list =
      offsets ??
      [...this.#positions.values()]
        .filter((o) => o.offset !== null)
        .map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset! }));
    if (list.length === 0) return;
    try {
      await this.#client.commit({
        offsets: list.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      });
    } catch (error) {
      throw toKappaError(error, { topic: list[0]!.topic });
    }
  }

  assignment(): TopicPartition[] {
    return [...this.#positions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  position(topic: string, partition: number): number | undefined {
    return this.#positions.get(tpKey(topic, partition))?.offset ?? undefined;
  }

  async #stopStream(): Promise<void> {
    this.#stream = null;
    const streams = [...this.#streams];
    this.#streams.clear();
    await Promise.all(streams.map((stream) => stream.close().catch(() => {})));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#mode === 'subscribed') await this.#revoke([...this.#positions.values()]);
    this.#closed = true;
    this.#wake();
    await this.#stopStream();
    await this.#client.close(true).catch(() => {});
    this.#positions.clear();
    this.#lastOwned = null;
    this.#bus.untrack(this);
  }

  #checkOpen(): void {
    if (this.#closed || this.#bus.closed) throw new BusClosedError('consumer');
  }
}

/** Runs a user's group callback; its failure is its own to report, and the rebalance goes on regardless. */
async function runGroupCallback(
  fn: ((partitions: TopicPartition[]) => void | Promise<void>) | undefined,
  partitions: TopicPartition[],
): Promise<void> {
  try {
    await fn?.(partitions);
  } catch {
    // Not ours to report: the callback logs its own failures.
  }
}
