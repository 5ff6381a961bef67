import {
  BusClosedError,
  type ConsumedRecord,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  type TopicPartition,
  type TopicPartitionOffset,
  tpKey,
} from '../core/index.ts';
import type { Consumer, ConsumerOptions, GroupMetadata, PollOptions } from './bus.ts';
import type { EmbeddedBus } from './embedded-bus.ts';
import type { GroupMember } from './group-coordinator.ts';
import type { PartitionLog } from './partition-log.ts';

interface Owned {
  topic: string;
  partition: number;
  log: PartitionLog;
  position: number;
}

let nextMemberId = 1;

export class EmbeddedConsumer implements Consumer, GroupMember {
  readonly memberId = nextMemberId++;
  topics: string[] = [];
  readonly #bus: EmbeddedBus;
  readonly #options: ConsumerOptions;
  readonly #owned = new Map<string, Owned>();
  readonly #wakers = new Set<() => void>();
  #mode: 'none' | 'subscribed' | 'assigned' = 'none';
  #next = 0;
  #closed = false;

  constructor(bus: EmbeddedBus, options: ConsumerOptions) {
    if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) {
      throw new InvalidArgumentError('A consumer group name must be a non-empty string');
    }
    this.#bus = bus;
    this.#options = options;
  }

  async subscribe(topics: string[]): Promise<void> {
    this.#checkOpen();
    const group = this.#options.group;
    if (group === undefined)
      throw new InvalidArgumentError(
        'subscribe() needs a consumer made with a group; use assign() without one',
      );
    if (this.#mode === 'assigned')
      throw new InvalidArgumentError('This consumer uses assign(); it cannot also subscribe');
    for (const topic of topics) this.#bus.topicConfig(topic);
    this.topics = [...new Set(topics)];
    this.#mode = 'subscribed';
    await this.#bus.groups.join(group, this);
  }

  async assign(partitions: Array<TopicPartition & { offset?: number }>): Promise<void> {
    this.#checkOpen();
    if (this.#mode === 'subscribed')
      throw new InvalidArgumentError('This consumer is subscribed to a group; it cannot also assign()');
    const owned = partitions.map((tp) => {
      const log = this.#bus.partitionLog(tp.topic, tp.partition);
      return {
        topic: tp.topic,
        partition: tp.partition,
        log,
        position: tp.offset ?? this.#initialPosition(log),
      };
    });
    this.#mode = 'assigned';
    this.#owned.clear();
    for (const o of owned) this.#owned.set(tpKey(o.topic, o.partition), o);
    this.#wake();
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#checkOpen();
    const owned = this.#owned.get(tpKey(topic, partition));
    if (!owned)
      throw new InvalidArgumentError(`seek(): ${topic}-${partition} is not assigned to this consumer`);
    if (!Number.isInteger(offset) || offset < 0)
      throw new InvalidArgumentError(`seek(): offset must be a non-negative integer, got ${offset}`);
    owned.position = offset;
    this.#wake();
  }

  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    this.#checkOpen();
    const maxRecords = options.maxRecords ?? 500;
    const maxBytes = options.maxBytes ?? 1024 * 1024;
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      const out: ConsumedRecord[] = [];
      this.#fetch(out, maxRecords, maxBytes);
      if (out.length > 0 || this.#closed) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted) return out;
      if (this.#anyReadable()) {
        await new Promise((resolve) => setImmediate(resolve)); // compaction is swapping a segment: try again
        continue;
      }
      await this.#waitForData(remaining, options.signal);
    }
  }

  /** Reads from owned partitions, starting from a different one each call so none starves. */
  #fetch(out: ConsumedRecord[], maxRecords: number, maxBytes: number): void {
    const owned = [...this.#owned.values()];
    if (owned.length === 0) return;
    const start = this.#next++ % owned.length;
    let bytes = 0;
    for (let i = 0; i < owned.length && out.length < maxRecords && bytes < maxBytes; i++) {
      const o = owned[(start + i) % owned.length]!;
      if (o.position >= o.log.endOffset) continue;
      const before = out.length;
      try {
        o.position = o.log.read(o.position, maxRecords - out.length, maxBytes - bytes, out);
      } catch (error) {
        if (!(error instanceof OffsetOutOfRangeError)) throw error;
        // Retention removed what this consumer had not read yet: continue per the reset policy.
        o.position = this.#resetPosition(o.log);
        continue;
      }
      for (let r = before; r < out.length; r++)
        bytes += (out[r]!.value?.length ?? 0) + (out[r]!.key?.length ?? 0);
    }
  }

  #anyReadable(): boolean {
    for (const o of this.#owned.values()) if (o.position < o.log.endOffset) return true;
    return false;
  }

  #waitForData(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancels: Array<() => void> = [];
      const done = (): void => {
        for (const cancel of cancels) cancel();
        resolve();
      };
      for (const o of this.#owned.values()) cancels.push(o.log.onAppend(done));
      const timer = setTimeout(done, ms);
      cancels.push(() => clearTimeout(timer));
      this.#wakers.add(done);
      cancels.push(() => this.#wakers.delete(done));
      if (signal) {
        signal.addEventListener('abort', done, { once: true });
        cancels.push(() => signal.removeEventListener('abort', done));
      }
    });
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const group = this.#options.group;
    if (group === undefined) throw new InvalidArgumentError('commit() needs a consumer made with a group');
    const list =
      offsets ??
      [...this.#owned.values()].map((o) => ({ topic: o.topic, partition: o.partition, offset: o.position }));
    for (const o of list) {
      this.#bus.partitionLog(o.topic, o.partition);
      if (!Number.isInteger(o.offset) || o.offset < 0)
        throw new InvalidArgumentError(`commit(): offset must be a non-negative integer, got ${o.offset}`);
    }
    await this.#bus.offsets.commit(group, list, this.#bus.clock.now());
  }

  assignment(): TopicPartition[] {
    return [...this.#owned.values()].map((o) => ({ topic: o.topic, partition: o.partition }));
  }

  groupMetadata(): GroupMetadata {
    this.#checkOpen();
    if (this.#mode !== 'subscribed')
      throw new InvalidArgumentError('groupMetadata() needs a consumer that has subscribed to a group');
    return this.#bus.groups.metadata(this.#options.group!, this);
  }

  position(topic: string, partition: number): number | undefined {
    return this.#owned.get(tpKey(topic, partition))?.position;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#mode === 'subscribed' && !this.#bus.closed)
      await this.#bus.groups.leave(this.#options.group!, this);
    else if (this.#mode === 'subscribed') await this.groupRevoke(this.assignment());
    this.#closed = true;
    this.#owned.clear();
    this.#wake();
    this.#bus.untrack(this);
  }

  // ── group membership (called by the coordinator) ─────────────────────────────────────────────

  async groupRevoke(partitions: TopicPartition[]): Promise<void> {
    try {
      await this.#options.onRevoked?.(partitions);
    } finally {
      for (const tp of partitions) this.#owned.delete(tpKey(tp.topic, tp.partition));
      this.#wake();
    }
  }

  async groupAssign(partitions: TopicPartition[]): Promise<void> {
    // onAssigned runs before the partitions are readable, so no record arrives ahead of it.
    await this.#options.onAssigned?.(partitions);
    for (const tp of partitions) {
      const log = this.#bus.partitionLog(tp.topic, tp.partition);
      this.#owned.set(tpKey(tp.topic, tp.partition), { ...tp, log, position: this.#initialPosition(log) });
    }
    this.#wake();
  }

  #initialPosition(log: PartitionLog): number {
    const group = this.#options.group;
    const committed =
      group === undefined ? undefined : this.#bus.offsets.get(group, log.topic, log.partition);
    if (committed !== undefined && committed >= log.startOffset && committed <= log.endOffset)
      return committed;
    return this.#resetPosition(log);
  }

  #resetPosition(log: PartitionLog): number {
    return (this.#options.reset ?? 'latest') === 'earliest' ? log.startOffset : log.endOffset;
  }

  #checkOpen(): void {
    if (this.#closed || this.#bus.closed) throw new BusClosedError('consumer');
  }
}
