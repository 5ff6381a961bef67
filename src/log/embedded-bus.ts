import { randomUUID } from 'node:crypto';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  BusClosedError,
  type Clock,
  type Duration,
  GroupNotEmptyError,
  InvalidTopicNameError,
  isInternalTopic,
  LimitExceededError,
  type Logger,
  OffsetOutOfRangeError,
  type PartitionOffset,
  reservedTopicName,
  silentLogger,
  systemClock,
  TopicExistsError,
  type TopicPartitionOffset,
  toMillis,
  UnknownPartitionError,
  UnknownTopicError,
  validateTopicName,
} from '../core/index.ts';
import type {
  Bus,
  Consumer,
  ConsumerOptions,
  PartitionRange,
  Producer,
  ProducerOptions,
  TopicDescription,
  TopicSpec,
} from './bus.ts';
import { compactPartition } from './compaction.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { EmbeddedConsumer } from './embedded-consumer.ts';
import { EmbeddedProducer } from './embedded-producer.ts';
import { FileHandles } from './file-handles.ts';
import { ensureDir, fsyncDir, removeDir, writeFileAtomic } from './file-io.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import { OFFSETS_TOPIC, OffsetStore } from './offset-store.ts';
import { OpenClients } from './open-clients.ts';
import { PartitionLog } from './partition-log.ts';
import { applyRetention } from './retention.ts';
import {
  describe,
  loadTopicConfig,
  MAX_PARTITIONS,
  resolveTopicConfig,
  saveTopicConfig,
  type TopicConfig,
} from './topic-config.ts';
import { TransactionCoordinator } from './transaction-coordinator.ts';
import { TransactionJournal } from './transaction-journal.ts';

export interface EmbeddedBusOptions {
  /** Folder that holds topics, group offsets and the transaction journal. Locked while open. */
  dataDir: string;
  /** Largest record (key + value + header bytes) accepted. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Largest transaction (its records are held in memory until commit). Default 64 MiB. */
  maxTransactionBytes?: number;
  /** Defaults for createTopic fields that a spec leaves out (fsync, segmentBytes, retention...). */
  topicDefaults?: Partial<Omit<TopicSpec, 'partitions'>>;
  /** How often retention and compaction run in the background. Default '30s'; 0 disables (call runMaintenance). */
  maintenanceInterval?: Duration;
  /** Partitions of all topics together, internal ones included. Default 10,000. */
  maxPartitions?: number;
  /** Partitions of one topic. Default 10,000. */
  maxPartitionsPerTopic?: number;
  /** Segment files held open at once (least recently used closed beyond). Default 512. */
  maxOpenFiles?: number;
  /** Size past which the transaction journal starts a new file. Default 64 MiB; tests make it small. */
  journalRotateBytes?: number;
  logger?: Logger;
  clock?: Clock;
}

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
export const DEFAULT_MAX_TRANSACTION_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_OPEN_FILES = 512;

interface TopicState {
  config: TopicConfig;
  partitions: PartitionLog[];
}

/** Opens (creating if needed) an embedded log in `dataDir`, recovering from any crash first. */
export async function openEmbeddedBus(options: EmbeddedBusOptions): Promise<EmbeddedBus> {
  return EmbeddedBus.open(options);
}

/**
 * The embedded log: a durable, partitioned, transactional log on local disk, in this process.
 *
 * Layout of the data directory:
 *   .lock, .clean               owner pid; present after a clean close (indexes can be trusted)
 *   topics/<topic>/topic.json   the topic's settings
 *   topics/<topic>/<partition>/ segments: <base offset>.log and .index
 *   transactions/journal-<n>    the commit journal (transaction-journal.ts)
 *   trash/                      deleted topics, removed in the background
 */
export class EmbeddedBus implements Bus {
  readonly kind = 'embedded';
  readonly dataDir: string;
  readonly maxRecordBytes: number;
  readonly maxTransactionBytes: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly groups: GroupCoordinator;
  offsets!: OffsetStore;
  /** What opening had to repair after a crash, for logs and tests. */
  recovery = { interruptedTransactions: 0, reappliedTransactionBatches: 0 };
  transactions!: TransactionCoordinator;
  readonly #topics = new Map<string, TopicState>();
  readonly #creating = new Map<string, Promise<void>>();
  readonly #topicDefaults: Partial<Omit<TopicSpec, 'partitions'>>;
  readonly #clients = new OpenClients();
  readonly handles: FileHandles;
  readonly #maxPartitions: number;
  readonly #journalRotateBytes: number | undefined;
  readonly #maxPartitionsPerTopic: number;
  /** Partitions of every topic, and of those being created, so that concurrent creates share the limit. */
  #partitionCount = 0;
  #journal!: TransactionJournal;
  #unlock!: () => Promise<void>;
  #timers: NodeJS.Timeout[] = [];
  #syncTimer: NodeJS.Timeout | null = null;
  /** How often the interval fsync policy is looked at: the shortest interval of any topic (at most 1 s). */
  syncIntervalMs = 1000;
  #closed = false;
  #closing: Promise<void> | null = null;
  #maintenanceRunning: Promise<void> | null = null;

  private constructor(options: EmbeddedBusOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.maxTransactionBytes = options.maxTransactionBytes ?? DEFAULT_MAX_TRANSACTION_BYTES;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.#topicDefaults = options.topicDefaults ?? {};
    this.handles = new FileHandles(options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
    this.#maxPartitions = options.maxPartitions ?? MAX_PARTITIONS;
    this.#journalRotateBytes = options.journalRotateBytes;
    this.#maxPartitionsPerTopic = Math.min(options.maxPartitionsPerTopic ?? MAX_PARTITIONS, MAX_PARTITIONS);
    this.groups = new GroupCoordinator((topic) => this.#topics.get(topic)?.config.partitions);
  }

  static async open(options: EmbeddedBusOptions): Promise<EmbeddedBus> {
    const bus = new EmbeddedBus(options);
    await ensureDir(bus.dataDir);
    bus.#unlock = await lockDataDir(bus.dataDir);
    try {
      await bus.#load();
    } catch (error) {
      await bus.#unlock();
      throw error;
    }
    const interval = toMillis(options.maintenanceInterval ?? '30s');
    if (interval > 0)
      bus.#timers.push(setInterval(() => void bus.runMaintenance().catch(bus.#logError), interval).unref());
    bus.#startIntervalSync();
    return bus;
  }

  async #load(): Promise<void> {
    const clean = path.join(this.dataDir, '.clean');
    const cleanShutdown = await stat(clean).then(
      () => true,
      () => false,
    );
    await rm(clean, { force: true });
    await removeDir(path.join(this.dataDir, 'trash'));
    const topicsDir = path.join(this.dataDir, 'topics');
    await ensureDir(topicsDir);
    for (const name of await readdir(topicsDir)) {
      const config = await loadTopicConfig(path.join(topicsDir, name, 'topic.json')).catch(() => null);
      if (!config) continue; // a topic whose creation did not finish
      this.#topics.set(name, await this.#openTopic(config, cleanShutdown));
      this.#partitionCount += config.partitions;
    }
    if (!this.#topics.has(OFFSETS_TOPIC)) {
      await this.#createTopic(OFFSETS_TOPIC, {
        partitions: 1,
        compacted: true,
        fsync: 'batch',
        segmentBytes: 16 * 1024 * 1024,
      });
    }
    const { journal, unfinished } = await TransactionJournal.open(
      path.join(this.dataDir, 'transactions'),
      this.#journalRotateBytes,
    );
    this.#journal = journal;
    this.transactions = new TransactionCoordinator(this, journal);
    const reapplied = await this.transactions.recover(unfinished);
    this.recovery = { interruptedTransactions: unfinished.length, reappliedTransactionBatches: reapplied };
    if (unfinished.length > 0)
      this.logger.warn(this.recovery, 'finished transaction commits a crash interrupted');
    this.offsets = await OffsetStore.load(this.partitionLog(OFFSETS_TOPIC, 0), this.logger);
  }

  async #openTopic(config: TopicConfig, cleanShutdown: boolean): Promise<TopicState> {
    const dir = path.join(this.dataDir, 'topics', config.name);
    const partitions: PartitionLog[] = [];
    for (let p = 0; p < config.partitions; p++) {
      partitions.push(
        await PartitionLog.open(
          path.join(dir, String(p)),
          config.name,
          p,
          config,
          cleanShutdown,
          this.logger,
          this.handles,
        ),
      );
    }
    return { config, partitions };
  }

  #logError = (error: unknown): void => {
    this.logger.error({ err: error }, 'embedded log background task failed');
  };

  /**
   * One timer syncs every partition whose policy is an interval, each once its own interval has
   * passed; the timer runs at the shortest interval of any topic, and runs faster when a topic with a
   * shorter one is created.
   */
  #startIntervalSync(): void {
    const defaults = this.#topicDefaults.fsync;
    const intervals = [...this.#topics.values()].flatMap((t) =>
      typeof t.config.fsync === 'number' ? [t.config.fsync] : [],
    );
    if (defaults !== undefined && defaults !== 'batch' && defaults !== 'never')
      intervals.push(toMillis(defaults));
    this.#syncEvery(Math.min(1000, ...intervals));
  }

  #syncEvery(ms: number): void {
    if (this.#syncTimer !== null && ms >= this.syncIntervalMs) return;
    if (this.#syncTimer !== null) clearInterval(this.#syncTimer);
    this.syncIntervalMs = ms;
    this.#syncTimer = setInterval(() => {
      const now = Date.now();
      for (const t of this.#topics.values()) {
        const every = t.config.fsync;
        if (typeof every !== 'number') continue;
        for (const p of t.partitions) {
          if (now - p.lastSyncAt < every) continue;
          p.lastSyncAt = now;
          void p.sync().catch(this.#logError);
        }
      }
    }, ms).unref();
  }

  // ── topics ────────────────────────────────────────────────────────────────────────────────────

  async createTopic(name: string, spec: TopicSpec): Promise<void> {
    this.#checkOpen();
    validateTopicName(name);
    const reserved = reservedTopicName(name);
    if (reserved) throw new InvalidTopicNameError(name, reserved);
    await this.#createTopic(name, spec);
  }

  async #createTopic(name: string, spec: TopicSpec): Promise<void> {
    if (this.#topics.has(name)) throw new TopicExistsError(name);
    const partitions = spec.partitions;
    if (Number.isInteger(partitions) && partitions > this.#maxPartitionsPerTopic)
      throw new LimitExceededError(
        `A topic may have at most ${this.#maxPartitionsPerTopic} partitions here (topics.maxPartitions), not ${partitions}`,
      );
    if (Number.isInteger(partitions) && this.#partitionCount + partitions > this.#maxPartitions)
      throw new LimitExceededError(
        `Creating '${name}' would make ${this.#partitionCount + partitions} partitions, over this log's limit of ${this.#maxPartitions} (log.maxPartitions): delete unused topics or raise the limit`,
        { partitions: this.#partitionCount, limit: this.#maxPartitions },
      );
    const counted = Number.isInteger(partitions) && partitions > 0 ? partitions : 0;
    this.#partitionCount += counted;
    try {
      await this.#createTopicOnce(name, spec);
    } catch (error) {
      this.#partitionCount -= counted;
      throw error;
    }
  }

  async #createTopicOnce(name: string, spec: TopicSpec): Promise<void> {
    // A second create of the same name waits for the first and then finds the topic there: the two
    // must not both prepare its folder.
    const inFlight = this.#creating.get(name);
    if (inFlight) {
      await inFlight.catch(() => {});
      if (this.#topics.has(name)) throw new TopicExistsError(name);
    }
    const creating = this.#doCreateTopic(name, spec);
    this.#creating.set(name, creating);
    try {
      await creating;
    } finally {
      if (this.#creating.get(name) === creating) this.#creating.delete(name);
    }
  }

  async #doCreateTopic(name: string, spec: TopicSpec): Promise<void> {
    const config = resolveTopicConfig(name, spec, this.#topicDefaults);
    const dir = path.join(this.dataDir, 'topics', name);
    await removeDir(dir);
    await ensureDir(dir);
    const state = await this.#openTopic(config, false);
    // topic.json last: a crash before it leaves a folder that #load ignores and a later create replaces.
    await saveTopicConfig(path.join(dir, 'topic.json'), config);
    this.#topics.set(name, state);
    if (typeof config.fsync === 'number') this.#syncEvery(config.fsync);
  }

  async deleteTopic(name: string): Promise<void> {
    this.#checkOpen();
    const state = this.#topic(name);
    if (state.config.internal) throw new UnknownTopicError(name);
    // Journaled batches of this topic must be done before it goes: recovery must never roll one
    // forward into a later topic of the same name.
    await this.transactions.flush();
    this.#topics.delete(name);
    this.#partitionCount -= state.config.partitions;
    await this.groups.topicDeleted(name);
    await this.offsets.forgetTopic(name, this.clock.now());
    for (const p of state.partitions) await p.close();
    const trash = path.join(this.dataDir, 'trash');
    await ensureDir(trash);
    // Not named after the topic: a 249-character name with a suffix would pass the file system's 255.
    const target = path.join(trash, `${Date.now()}-${randomUUID()}`);
    await rename(path.join(this.dataDir, 'topics', name), target);
    await fsyncDir(path.join(this.dataDir, 'topics'));
    await removeDir(target);
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    this.#checkOpen();
    return [...this.#topics.keys()].filter((t) => options.includeInternal || !isInternalTopic(t)).sort();
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#checkOpen();
    return describe(this.#topic(name).config);
  }

  async partitionOffsets(topic: string): Promise<PartitionRange[]> {
    this.#checkOpen();
    return this.#topic(topic).partitions.map((p) => ({
      partition: p.partition,
      start: p.startOffset,
      end: p.endOffset,
    }));
  }

  async offsetsForTime(topic: string, at: Date | number): Promise<PartitionOffset[]> {
    this.#checkOpen();
    const ts = at instanceof Date ? at.getTime() : at;
    const state = this.#topic(topic);
    return Promise.all(
      state.partitions.map(async (p) => ({ partition: p.partition, offset: await p.offsetForTime(ts) })),
    );
  }

  async deleteRecords(topic: string, offsets: PartitionOffset[]): Promise<PartitionOffset[]> {
    this.#checkOpen();
    const state = this.#topic(topic);
    const logs = offsets.map((o) => {
      const log = state.partitions[o.partition];
      if (!log) throw new UnknownPartitionError(topic, o.partition, state.partitions.length);
      return log;
    });
    return Promise.all(
      offsets.map(async (o, i) => ({
        partition: o.partition,
        offset: await logs[i]!.deleteRecordsBelow(o.offset),
      })),
    );
  }

  async committedOffsets(group: string, topic?: string): Promise<TopicPartitionOffset[]> {
    this.#checkOpen();
    return this.offsets.list(group, topic);
  }

  async listGroups(): Promise<string[]> {
    this.#checkOpen();
    return [...new Set([...this.offsets.groups(), ...this.groups.live()])].sort();
  }

  async groupMembers(group: string): Promise<string[]> {
    this.#checkOpen();
    return this.groups.members(group);
  }

  async alterOffsets(group: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const members = this.groups.members(group);
    if (members.length > 0) throw new GroupNotEmptyError(group, members.length);
    for (const o of offsets) {
      const log = this.partitionLog(o.topic, o.partition);
      if (!Number.isInteger(o.offset) || o.offset < 0 || o.offset > log.endOffset)
        throw new OffsetOutOfRangeError(o.topic, o.partition, o.offset, log.startOffset, log.endOffset);
    }
    await this.offsets.commit(group, offsets, this.clock.now());
  }

  // ── clients ───────────────────────────────────────────────────────────────────────────────────

  producer(options: ProducerOptions = {}): Producer {
    this.#checkOpen();
    return this.#clients.add(new EmbeddedProducer(this, options));
  }

  consumer(options: ConsumerOptions): Consumer {
    this.#checkOpen();
    return this.#clients.add(new EmbeddedConsumer(this, options));
  }

  /** @internal clients deregister themselves on close. */
  untrack(client: { close(): Promise<void> }): void {
    this.#clients.delete(client);
  }

  // ── internals for producers, consumers and transactions ───────────────────────────────────────

  topicConfig(topic: string): TopicConfig {
    return this.#topic(topic).config;
  }

  partitionLog(topic: string, partition: number): PartitionLog {
    const state = this.#topic(topic);
    const log = state.partitions[partition];
    if (!log || !Number.isInteger(partition))
      throw new UnknownPartitionError(topic, partition, state.partitions.length);
    return log;
  }

  partitionLogs(topic: string): readonly PartitionLog[] {
    return this.#topic(topic).partitions;
  }

  hasTopic(topic: string): boolean {
    return this.#topics.has(topic);
  }

  #topic(name: string): TopicState {
    const state = this.#topics.get(name);
    if (!state) throw new UnknownTopicError(name);
    return state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(): void {
    if (this.#closing) throw new BusClosedError();
  }

  // ── maintenance and shutdown ──────────────────────────────────────────────────────────────────

  /** Runs retention and compaction on every partition now (the background timer calls this too). */
  runMaintenance(): Promise<void> {
    this.#checkOpen();
    this.#maintenanceRunning ??= this.#maintain().finally(() => {
      this.#maintenanceRunning = null;
    });
    return this.#maintenanceRunning;
  }

  async #maintain(): Promise<void> {
    for (const state of [...this.#topics.values()]) {
      for (const log of state.partitions) {
        if (this.#closed) return;
        const task = log.maintenance.then(async () => {
          const now = this.clock.now();
          const deleted = await applyRetention(log, now);
          if (deleted > 0)
            this.logger.debug({ topic: log.topic, partition: log.partition, deleted }, 'retention');
          if (log.config.compacted) await compactPartition(log, now);
        });
        log.maintenance = task.catch(() => {});
        await task;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    if (this.#syncTimer !== null) clearInterval(this.#syncTimer);
    // Clients close first, while the bus still works: a consumer's onRevoked may commit offsets.
    await this.#clients.closeAll();
    this.#closed = true;
    await this.#maintenanceRunning?.catch(() => {});
    await this.transactions.close();
    for (const state of this.#topics.values()) for (const p of state.partitions) await p.close();
    await this.#journal.close();
    await writeFileAtomic(path.join(this.dataDir, '.clean'), String(Date.now()));
    await this.#unlock();
  }
}
