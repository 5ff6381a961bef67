import { Admin, FetchIsolationLevels, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import {
  BusClosedError,
  GroupNotEmptyError,
  OffsetOutOfRangeError,
  type PartitionOffset,
  type TopicPartitionOffset,
  UnknownPartitionError,
  UnknownTopicError,
  validateTopicName,
} from '../core/index.ts';
import {
  type Bus,
  type Consumer,
  type ConsumerOptions,
  OpenClients,
  type PartitionRange,
  type Producer,
  type ProducerOptions,
  resolveTopicConfig,
  type TopicDescription,
  type TopicSpec,
} from '../log/index.ts';
import { KafkaConsumer } from './kafka-consumer.ts';
import { toKappaError } from './kafka-errors.ts';
import { connectionOptions, type KafkaBusOptions } from './kafka-options.ts';
import { KafkaProducer } from './kafka-producer.ts';

const PARTITION_COUNT_TTL_MS = 5000;
const EARLIEST = -2n;
const LATEST = -1n;

/**
 * The Bus contract over Apache Kafka. Kafka does the distribution, replication and failover; this
 * maps the contract's calls onto @platformatic/kafka's admin, producer and consumer clients and
 * translates their errors into Kappa's.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly options: KafkaBusOptions;
  readonly maxRecordBytes: number;
  readonly maxBatchBytes: number;
  readonly admin: Admin;
  readonly #clients = new OpenClients();
  readonly #partitionCounts = new Map<string, { count: number; until: number }>();
  readonly #groupCoordinators = new Map<string, number>();
  #closed = false;

  constructor(options: KafkaBusOptions) {
    this.options = options;
    this.maxRecordBytes = options.maxRecordBytes ?? 1_000_000;
    this.maxBatchBytes = Math.max(this.maxRecordBytes + 1024, options.maxBatchBytes ?? 1_000_000);
    this.admin = new Admin(connectionOptions(options, 'admin'));
  }

  async createTopic(name: string, spec: TopicSpec): Promise<void> {
    this.#checkOpen();
    validateTopicName(name);
    // The contract's checks and units, as the embedded log applies them; only what the spec names
    // becomes a topic config, so the broker's own defaults stand for the rest.
    const resolved = resolveTopicConfig(name, spec);
    const configs: Array<{ name: string; value: string }> = [];
    if (resolved.compacted) configs.push({ name: 'cleanup.policy', value: 'compact' });
    if (resolved.retentionMs !== null)
      configs.push({ name: 'retention.ms', value: String(resolved.retentionMs) });
    if (resolved.retentionBytes !== null)
      configs.push({ name: 'retention.bytes', value: String(resolved.retentionBytes) });
    if (spec.tombstoneRetention !== undefined)
      configs.push({ name: 'delete.retention.ms', value: String(resolved.tombstoneRetentionMs) });
    if (spec.segmentBytes !== undefined)
      configs.push({ name: 'segment.bytes', value: String(resolved.segmentBytes) });
    this.#partitionCounts.delete(name);
    try {
      await this.admin.createTopics({
        topics: [name],
        partitions: resolved.partitions,
        replicas: this.options.replicationFactor ?? -1,
        configs,
      });
    } catch (error) {
      throw toKappaError(error, { topic: name });
    }
    await this.#awaitMetadata(name);
  }

  /** Creation is acknowledged by the controller before every broker knows the topic; wait until it is usable. */
  async #awaitMetadata(name: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        const metadata = await this.admin.metadata({ topics: [name], forceUpdate: true });
        const topic = metadata.topics.get(name);
        if (topic?.partitions.every((p) => p.leader >= 0)) return;
      } catch {
        // not there yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async deleteTopic(name: string): Promise<void> {
    this.#checkOpen();
    this.#partitionCounts.delete(name);
    try {
      await this.admin.deleteTopics({ topics: [name] });
    } catch (error) {
      throw toKappaError(error, { topic: name });
    }
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    this.#checkOpen();
    const names = await this.admin
      .listTopics({ includeInternals: options.includeInternal ?? false })
      .catch((e) => {
        throw toKappaError(e);
      });
    return names.filter((n) => options.includeInternal || !n.startsWith('__')).sort();
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#checkOpen();
    const metadata = await this.#topicMetadata(name);
    const partitions = metadata.partitionsCount;
    const [described] = await this.admin
      .describeConfigs({
        resources: [
          {
            resourceType: 2,
            resourceName: name,
            configurationKeys: ['cleanup.policy', 'retention.ms', 'retention.bytes'],
          },
        ],
      })
      .catch((e) => {
        throw toKappaError(e, { topic: name });
      });
    const config = new Map((described?.configs ?? []).map((c) => [c.name, c.value]));
    const retentionMs = Number(config.get('retention.ms') ?? -1);
    const retentionBytes = Number(config.get('retention.bytes') ?? -1);
    return {
      name,
      partitions,
      compacted: (config.get('cleanup.policy') ?? '').split(',').includes('compact'),
      retentionMs: retentionMs < 0 ? null : retentionMs,
      retentionBytes: retentionBytes < 0 ? null : retentionBytes,
      internal: name.startsWith('__'),
      replicationFactor: metadata.partitions[0]?.replicas.length ?? 0,
    };
  }

  /**
   * A topic's partition count, cached for a few seconds: producers ask on every send, and a topic's
   * partitions only grow, which the client's own metadata refresh picks up as slowly.
   */
  async partitionCount(topic: string): Promise<number> {
    const cached = this.#partitionCounts.get(topic);
    if (cached && cached.until > Date.now()) return cached.count;
    const count = (await this.#topicMetadata(topic)).partitionsCount;
    this.#partitionCounts.set(topic, { count, until: Date.now() + PARTITION_COUNT_TTL_MS });
    return count;
  }

  async #topicMetadata(topic: string) {
    try {
      const metadata = await this.admin.metadata({ topics: [topic] });
      const t = metadata.topics.get(topic);
      if (!t) throw new UnknownTopicError(topic);
      return t;
    } catch (error) {
      throw toKappaError(error, { topic });
    }
  }

  async partitionOffsets(topic: string): Promise<PartitionRange[]> {
    this.#checkOpen();
    const partitions = await this.partitionCount(topic);
    const [start, end] = await Promise.all([
      this.#listOffsets(topic, partitions, EARLIEST),
      this.#listOffsets(topic, partitions, LATEST),
    ]);
    return start.map((s, p) => ({ partition: p, start: s, end: end[p]! }));
  }

  async offsetsForTime(topic: string, at: Date | number): Promise<PartitionOffset[]> {
    this.#checkOpen();
    const partitions = await this.partitionCount(topic);
    const ts = BigInt(at instanceof Date ? at.getTime() : at);
    const offsets = await this.#listOffsets(topic, partitions, ts);
    return offsets.map((offset, partition) => ({ partition, offset }));
  }

  /** Per partition, the offset for a timestamp (or EARLIEST/LATEST), as a read_committed reader sees it. */
  async #listOffsets(topic: string, partitions: number, timestamp: bigint): Promise<number[]> {
    try {
      const [listed] = await this.admin.listOffsets({
        topics: [
          {
            name: topic,
            partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp })),
          },
        ],
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      });
      const out = new Array<number>(partitions).fill(-1);
      for (const p of listed?.partitions ?? []) out[p.partitionIndex] = Number(p.offset);
      return out;
    } catch (error) {
      throw toKappaError(error, { topic });
    }
  }

  async deleteRecords(topic: string, offsets: PartitionOffset[]): Promise<PartitionOffset[]> {
    this.#checkOpen();
    if (offsets.length === 0) return [];
    // Checked here, so a bad offset gets the same typed error as on the embedded log rather than the
    // broker's per-partition code.
    const ranges = await this.partitionOffsets(topic);
    for (const o of offsets) {
      const range = ranges[o.partition];
      if (!range) throw new UnknownPartitionError(topic, o.partition, ranges.length);
      if (!Number.isInteger(o.offset) || o.offset < 0 || o.offset > range.end)
        throw new OffsetOutOfRangeError(topic, o.partition, o.offset, range.start, range.end);
    }
    try {
      const [deleted] = await this.admin.deleteRecords({
        topics: [
          {
            name: topic,
            partitions: offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })),
          },
        ],
      });
      return (deleted?.partitions ?? []).map((p) => ({
        partition: p.partition,
        offset: Number(p.lowWatermark),
      }));
    } catch (error) {
      throw toKappaError(error, { topic });
    }
  }

  async committedOffsets(group: string, topic?: string): Promise<TopicPartitionOffset[]> {
    this.#checkOpen();
    try {
      // require_stable: offsets of a transaction that is still completing are waited for, not skipped.
      const [result] = await this.admin.listConsumerGroupOffsets({ groups: [group], requireStable: true });
      const out: TopicPartitionOffset[] = [];
      for (const t of result?.topics ?? []) {
        if (topic !== undefined && t.name !== topic) continue;
        for (const p of t.partitions)
          if (p.committedOffset >= 0n)
            out.push({ topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset) });
      }
      return out.sort((a, b) =>
        a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
      );
    } catch (error) {
      throw toKappaError(error, { ...(topic ? { topic } : {}) });
    }
  }

  async listGroups(): Promise<string[]> {
    this.#checkOpen();
    try {
      return [...(await this.admin.listGroups()).keys()].sort();
    } catch (error) {
      throw toKappaError(error);
    }
  }

  async groupMembers(group: string): Promise<string[]> {
    this.#checkOpen();
    try {
      const described = (await this.admin.describeGroups({ groups: [group] })).get(group);
      return [...(described?.members.keys() ?? [])];
    } catch (error) {
      throw toKappaError(error);
    }
  }

  async alterOffsets(group: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const members = await this.groupMembers(group);
    if (members.length > 0) throw new GroupNotEmptyError(group, members.length);
    const topics = [...new Set(offsets.map((o) => o.topic))];
    for (const topic of topics) {
      const ranges = await this.partitionOffsets(topic);
      for (const o of offsets.filter((o) => o.topic === topic)) {
        const range = ranges.find((r) => r.partition === o.partition);
        if (!range) throw new UnknownPartitionError(topic, o.partition, ranges.length);
        if (!Number.isInteger(o.offset) || o.offset < 0 || o.offset > range.end)
          throw new OffsetOutOfRangeError(topic, o.partition, o.offset, range.start, range.end);
      }
    }
    try {
      // The broker refuses too if a member joined meanwhile.
      await this.admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: topics.map((name) => ({
          name,
          partitionOffsets: offsets
            .filter((o) => o.topic === name)
            .map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })),
        })),
      });
    } catch (error) {
      throw toKappaError(error);
    }
  }

  /** The node that coordinates a group, remembered until a request to it fails. */
  async groupCoordinator(group: string): Promise<number> {
    const known = this.#groupCoordinators.get(group);
    if (known !== undefined) return known;
    try {
      const [coordinator] = await this.admin.findCoordinator({
        keyType: FindCoordinatorKeyTypes.GROUP,
        keys: [group],
      });
      this.#groupCoordinators.set(group, coordinator!.nodeId);
      return coordinator!.nodeId;
    } catch (error) {
      throw toKappaError(error);
    }
  }

  forgetGroupCoordinator(group: string): void {
    this.#groupCoordinators.delete(group);
  }

  producer(options: ProducerOptions = {}): Producer {
    this.#checkOpen();
    return this.#clients.add(new KafkaProducer(this, options));
  }

  consumer(options: ConsumerOptions): Consumer {
    this.#checkOpen();
    return this.#clients.add(new KafkaConsumer(this, options));
  }

  untrack(client: { close(): Promise<void> }): void {
    this.#clients.delete(client);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(): void {
    if (this.#closed) throw new BusClosedError();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#clients.closeAll();
    this.#closed = true;
    await this.admin.close().catch(() => {});
  }
}
