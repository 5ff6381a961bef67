import { randomUUID } from 'node:crypto';
import {
  type Clock,
  type ConsumedRecord,
  GroupFencedError,
  type Logger,
  type ProducerRecord,
  partitionForKey,
  type TopicPartition,
  type TopicPartitionOffset,
  TransactionTooLargeError,
  tpKey,
  UnknownTopicError,
} from '../../core/index.ts';
import type { Bus, Consumer, ConsumerOptions, Producer } from '../../log/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import type { StateStore } from '../state/state-store.ts';
import { NO_WATERMARK } from '../time/watermarks.ts';
import { changelogRecords, changelogTopic, nextOffsets } from './changelog.ts';
import { type DeadLetter, letterValue } from './dead-letter.ts';
import { deadLetterRecord } from './dead-letter-record.ts';
import { PipelineTask, type TableLookup } from './pipeline-task.ts';
import { watermarkRecords } from './repartition-record.ts';
import { type Stage, stageGroup, stagePipeline } from './stages.ts';
import { committed, deadLettered, polled, restored, type StepCount } from './stream-events.ts';
import { StageState, type TaskState } from './task-state.ts';

export interface StageRunnerOptions {
  bus: Bus;
  pipeline: Pipeline;
  stage: Stage;
  /** Partitions of the repartition topic the stage writes (0 when it writes none). */
  outputPartitions: number;
  /** For a stage reading a repartition topic: the tasks of the stages that write it (one per input partition). */
  upstreams?: number;
  /** For a stage writing a repartition topic: the upstream number of its partition 0's task (other writers come first). */
  upstreamBase?: number;
  deadLetterTopic: string;
  /** Where tasks keep their state (lmdb, one file per task); null: in memory, restored from the changelogs at each start. */
  stateDir: string | null;
  /** Where checkpoints go (a `checkpoints` folder in it); default the state folder's parent. */
  checkpointDir: string | null;
  /** How often each task with state on disk is checkpointed. */
  checkpointIntervalMs: number;
  /** False: no changelogs, and every task starts with empty state (benchmarks, throwaway pipelines). */
  changelogs: boolean;
  /** The tables the pipeline joins with, by topic. */
  tables: (topic: string) => TableLookup;
  clock: Clock;
  logger: Logger;
  tickMs: number;
  /** How often a stage reading a repartition topic deletes what it has committed past. */
  purgeIntervalMs: number;
  /** The largest record the bus takes: a larger output is a dead letter. */
  maxRecordBytes: number;
  /** Output held for the next transaction past this size is committed at once (consumption waits). */
  maxPendingBytes: number;
  /**
   * While polls come back full (the stage is behind), a transaction at most this often (wall-clock
   * ms); once a poll comes back short, after every poll.
   */
  commitIntervalMs: number;
  /** Memory for each task's windows (with state on disk; see PipelineTaskOptions.cacheBytes). */
  cacheBytes: number;
  /**
   * The stage after this one's cut, run in this loop for every partition of the repartition topic
   * (a local exchange), with the number of upstream tasks it hears from. Only for a runner that is
   * its pipeline's only one (see PipelineRunnerOptions.localExchange).
   */
  local?: { stage: Stage; upstreams: number } | null;
  /** How the stage's input is consumed; default the bus's group consumer (a source `fromArchive`: the archive's). */
  consumer?: (options: ConsumerOptions) => Consumer;
}

/** Keys whose partition the local exchange remembers, at most. */
const PARTITION_CACHE = 100_000;

/** Records asked of each poll: a poll that brings fewer means the stage has caught up. */
const POLL_RECORDS = 5000;

/** An output held for the next transaction, with the input record it came from (null: a window result). */
type HeldRecord = ProducerRecord & { from?: ConsumedRecord | null };

/** A partition this runner owns: its task once its state is restored. */
interface Owned extends TaskState {
  task: PipelineTask | null;
}

/** The tasks of one stage run here: by partition of the stage's input, and how their state is kept. */
interface Tasks {
  stage: Stage;
  state: StageState;
  owned: Map<number, Owned>;
  upstreams: number | undefined;
}

/**
 * One stage of a pipeline over the bus: a member of the stage's consumer group with one task per
 * input partition it owns. Because a stage's input is partitioned by what its windows group by (the
 * source for the first stage, a repartition topic after a keyBy), a task's state belongs to its
 * partition. What the tasks produce is sent after each poll, followed, for a stage that writes a
 * repartition topic, by each task's watermark on every partition of it.
 *
 * Every stage sends its output, its state changes (to each window step's changelog) and the offsets
 * it read in one transaction, fenced to this member of the group (Kafka's KIP-447), so output, state
 * and offsets move together, also across a crash or a rebalance (Kafka Streams' exactly-once v2).
 * The local stores take a transaction's changes only once it has committed. When a partition comes
 * to a runner, its task's stores are brought up to their changelogs' ends before it runs: the local
 * store's tail only after a restart on the same machine, the changelog's live keys otherwise. Nothing
 * reads the input again to recover. Any failure in a poll ends in a rejoin: the tasks are dropped and
 * start again from what the bus committed.
 *
 * With a local exchange, the runner also runs the next stage, for every partition of the repartition
 * topic: each element at the cut goes straight to the task of the partition its key hashes to (the
 * bus's murmur2, so state sits in the same partitions as through the topic), and each task's
 * watermark straight to every such task, as Flink chains operators within a process. Their state
 * changes go to their changelogs in the same transaction as the source offsets, so a crash rolls
 * both back together; nothing is written to the repartition topic.
 */
export class StageRunner {
  readonly #o: StageRunnerOptions;
  /** The tasks of this runner's stage, by input partition owned. */
  readonly #own: Tasks;
  /** The next stage's, for every partition of the repartition topic, with a local exchange. */
  readonly #local: Tasks | null;
  readonly #owned: Map<number, Owned>;
  /** The watermark (and idleness) each task last sent downstream. */
  readonly #sent = new Map<number, string>();
  /** Offsets read whose output is not committed yet, by partition (a stage reads one topic). */
  readonly #toCommit = new Map<number, TopicPartitionOffset>();
  /** The offset last committed (or first read from) per partition owned, once known. */
  readonly #committed = new Map<number, number>();
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #pending: ProducerRecord[] = [];
  #pendingBytes = 0;
  /** How many of the last transaction's records were outputs (the changelog records follow). */
  #sentOutputs = 0;
  /** The commit interval now: none once a transaction was too large for the bus. */
  #commitIntervalMs: number;
  /** The local exchange's partition of recent primitive keys. */
  readonly #partitionOf = new Map<unknown, number>();
  /** The last committed transaction's writes into the stores, on lmdb's thread while the loop goes on. */
  #storing: Promise<void> = Promise.resolve();

  /** Flushes run one after another: the loop's, and a revocation's. */
  #flushing: Promise<void> = Promise.resolve();
  /** A flush for a revocation failed: the loop rejoins, dropping what it holds. */
  #mustRejoin: unknown = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #processed = 0;
  #lastPurge = 0;
  #lastCheckpoint = 0;
  /** Source partitions idle at the last tick. */
  readonly #idle = new Set<number>();
  /** Dead letters held for the next transaction, by step and reason: published once it commits. */
  readonly #letters = new Map<string, { step: string; reason: string; count: number }>();

  constructor(options: StageRunnerOptions) {
    this.#o = options;
    this.#commitIntervalMs = options.commitIntervalMs;
    const tasks = (stage: Stage, upstreams: number | undefined): Tasks => ({
      stage,
      state: new StageState({ ...options, stage }),
      owned: new Map(),
      upstreams,
    });
    this.#own = tasks(options.stage, options.upstreams);
    this.#owned = this.#own.owned;
    this.#local = options.local ? tasks(options.local.stage, options.local.upstreams) : null;
    if (this.#local)
      for (let p = 0; p < options.outputPartitions; p++)
        this.#local.owned.set(p, { task: null, state: null, stores: new Map() });
  }

  /** Every task run here: this stage's, then the local next stage's. */
  *#tasks(): Generator<[partition: number, owned: Owned, tasks: Tasks]> {
    for (const tasks of this.#local ? [this.#own, this.#local] : [this.#own])
      for (const [partition, owned] of tasks.owned) yield [partition, owned, tasks];
  }

  /** Records processed so far. */
  get processed(): number {
    return this.#processed;
  }

  /** Partitions owned whose state is not restored yet. */
  get restoring(): number {
    let n = 0;
    for (const [, owned] of this.#tasks()) if (owned.task === null) n++;
    return n;
  }

  /** Source partitions whose task is idle: windows no longer wait for them. */
  get idle(): number[] {
    return [...this.#idle].sort((a, b) => a - b);
  }

  /** The consumer group: the pipeline's own for the first stage, one per stage after that. */
  get group(): string {
    return stageGroup(this.#o.pipeline, this.#o.stage);
  }

  /** The changelog of each stateful step of this stage (and of the local next stage). */
  changelogs(): string[] {
    if (!this.#o.changelogs) return [];
    const steps = [...this.#own.state.steps, ...(this.#local?.state.steps ?? [])];
    return steps.map((step) => changelogTopic(this.#o.pipeline, step));
  }

  async start(): Promise<void> {
    // One transactional id per runner, as Kafka Streams' exactly-once v2: the group generation, not
    // the id, fences a member that lost its partitions.
    this.#producer = this.#o.bus.producer({ transactionalId: `${this.group}-${randomUUID()}` });
    await this.#join();
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#running;
    await this.#flush().catch(() => this.#discard());
    await this.#consumer?.close();
    await this.#release([...this.#owned.keys()]);
    await this.#releaseLocal();
    await this.#producer?.close();
    // Its tasks gone, the stage says it has no watermark any more.
    this.#publish(0);
  }

  /** The steps this stage runs: the pipeline's, or a join's other input. */
  get #chain() {
    return stagePipeline(this.#o.pipeline, this.#o.stage);
  }

  async #join(): Promise<void> {
    this.#consumer = (this.#o.consumer ?? ((o) => this.#o.bus.consumer(o)))({
      group: this.group,
      reset: 'earliest',
      onAssigned: (partitions) => this.#assigned(partitions),
      onRevoked: (partitions) => this.#revoked(partitions),
    });
    await this.#consumer.subscribe([this.#o.stage.input]);
  }

  /** A partition comes: its task starts once its state is restored (before its first record). */
  #assigned(partitions: TopicPartition[]): void {
    for (const { partition } of partitions)
      if (!this.#owned.has(partition))
        this.#owned.set(partition, { task: null, state: null, stores: new Map() });
  }

  /**
   * Partitions go: what was processed so far is committed first (its outputs, state and offsets, as
   * Kafka Streams commits a task it gives up), so the next owner starts where this one stopped and
   * nothing held here is committed later without its offsets. The loop is always between records
   * when this runs, so what is held is a consistent prefix. If that commit fails, the loop rejoins.
   */
  async #revoked(partitions: TopicPartition[]): Promise<void> {
    await this.#flush().catch((error: unknown) => {
      this.#mustRejoin = error;
    });
    for (const { topic, partition } of partitions) {
      this.#sent.delete(partition);
      if (topic === this.#o.stage.input) {
        this.#toCommit.delete(partition);
        this.#committed.delete(partition);
      }
    }
    await this.#release(partitions.map((p) => p.partition));
  }

  /** Closes the stores of partitions given up (pending writes were committed or are dropped). */
  async #release(partitions: number[], tasks = this.#own): Promise<void> {
    await this.#storing;
    for (const partition of partitions) {
      const owned = tasks.owned.get(partition);
      if (!owned) continue;
      if (tasks === this.#local) tasks.owned.set(partition, { task: null, state: null, stores: new Map() });
      else tasks.owned.delete(partition);
      owned.task?.close();
      for (const store of owned.stores.values()) {
        store.discard();
        await store.close().catch(() => {});
      }
      await owned.state?.close().catch(() => {});
    }
  }

  /** Closes the local next stage's tasks: they start again, restored, at the next poll. */
  async #releaseLocal(): Promise<void> {
    if (this.#local) await this.#release([...this.#local.owned.keys()], this.#local);
  }

  /** The task of a partition, its state restored first. */
  async #task(partition: number, tasks = this.#own): Promise<PipelineTask | null> {
    const owned = tasks.owned.get(partition);
    if (!owned) return null;
    if (owned.task) return owned.task;
    const { pipeline, logger } = this.#o;
    const { stage, state, upstreams } = tasks;
    const started = performance.now();
    const { records, checkpoint } = await state.restore(owned, partition);
    // Given up meanwhile (a rebalance during the restore).
    if (tasks.owned.get(partition) !== owned) return null;
    const local = this.#local;
    const task: PipelineTask = new PipelineTask(this.#chain, {
      partitions: [partition],
      clock: this.#o.clock,
      stage,
      stores: (step) => owned.stores.get(step)!,
      maxRecordBytes: this.#o.maxRecordBytes,
      ...(this.#o.stateDir === null ? {} : { cacheBytes: this.#o.cacheBytes }),
      tables: this.#o.tables,
      load: 'later',
      ...(upstreams === undefined ? {} : { upstreams }),
      ...(local === null || tasks === local
        ? {}
        : { exchange: (key, value, eventTime, side) => this.#exchange(task, key, value, eventTime, side) }),
      output: {
        send: (topic, key, value) => {
          // The input record it came from rides along (the bus ignores the field): a dead letter's
          // pointer if the bus refuses the output.
          const record: HeldRecord = { topic, key, value, from: task.current };
          this.#hold(record);
        },
        deadLetter: (letter) => this.#hold(this.#deadLetter(letter)),
      },
    });
    // The windows come into memory a chunk at a time, with the event loop let run in between.
    let slice = performance.now();
    for (const _ of task.loading())
      if (performance.now() - slice > 10) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
    if (tasks.owned.get(partition) !== owned) return null;
    owned.task = task;
    const seconds = (performance.now() - started) / 1000;
    if (state.steps.length > 0 && restored.hasSubscribers)
      restored.publish({ pipeline: pipeline.name, stage: stage.index, partition, seconds, records });
    if (state.steps.length > 0)
      logger.info(
        {
          pipeline: pipeline.name,
          stage: stage.index,
          partition,
          changelogRecords: records,
          fromCheckpoint: checkpoint,
          ms: Math.round(seconds * 1000),
        },
        'pipeline task restored',
      );
    return owned.task;
  }

  /** An element at the cut, handed to the local task of the partition its key hashes to. */
  #exchange(from: PipelineTask, key: unknown, value: unknown, eventTime: number, side: 0 | 1): void {
    const local = this.#local!;
    // Keys recur: a primitive one's partition is remembered rather than hashed from its JSON again.
    const primitive = typeof key !== 'object' || key === null;
    let partition = primitive ? this.#partitionOf.get(key) : undefined;
    if (partition === undefined) {
      partition = partitionForKey(Buffer.from(JSON.stringify(key)), local.owned.size);
      if (primitive) {
        if (this.#partitionOf.size >= PARTITION_CACHE) this.#partitionOf.clear();
        this.#partitionOf.set(key, partition);
      }
    }
    // Every local task is started before a poll's records are processed.
    local.owned.get(partition)!.task!.receive(from.current!, key, value, eventTime, side);
  }

  /**
   * Every `checkpointIntervalMs`, a checkpoint of each task with state on disk (see
   * StageState.checkpoint).
   */
  async #checkpoint(): Promise<void> {
    const now = this.#o.clock.now();
    if (!this.#o.changelogs || now - this.#lastCheckpoint < this.#o.checkpointIntervalMs) return;
    this.#lastCheckpoint = now;
    await this.#storing;
    for (const [partition, owned, tasks] of this.#tasks())
      if (owned.task) await tasks.state.checkpoint(owned, partition);
  }

  async #loop(): Promise<void> {
    let lastTick = this.#o.clock.now();
    let lastCommit = performance.now();
    while (!this.#stopped) {
      try {
        // Tasks start before the poll, so a restored task's timers run even if no record comes.
        for (const [partition, , tasks] of [...this.#tasks()]) await this.#task(partition, tasks);
        const records = await this.#consumer!.poll({
          timeoutMs: Math.min(200, this.#o.tickMs),
          maxRecords: POLL_RECORDS,
        });
        await this.#process(records);
        this.#readToPositions();
        this.#rejoinIfAsked();
        const now = this.#o.clock.now();
        if (now - lastTick >= this.#o.tickMs) {
          lastTick = now;
          for (const [, owned] of this.#tasks()) owned.task?.tick();
          this.#noticeIdle();
        }
        this.#watermarks();
        this.#publish(records.length);
        // Behind (a full poll), transactions are spaced out, as Kafka Streams' commit.interval.ms:
        // each costs a commit on the bus and on lmdb, and a window changed in every poll is written
        // once per transaction. Caught up, every poll's output is committed at once.
        if (records.length < POLL_RECORDS || performance.now() - lastCommit >= this.#commitIntervalMs) {
          await this.#flush();
          lastCommit = performance.now();
        }
        this.#rejoinIfAsked();
        await this.#purge();
        await this.#checkpoint();
      } catch (error) {
        if (this.#stopped) return;
        // Nothing of this poll is committed, and the tasks may be ahead of what is: rejoin, and go on
        // from the group's committed offsets and the changelogs.
        this.#log('warn', error, 'pipeline stage rejoining its group');
        // The same input would make the same transaction again: commit after every poll from now on.
        if (error instanceof TransactionTooLargeError) this.#commitIntervalMs = 0;
        if (!(error instanceof GroupFencedError)) await new Promise((r) => setTimeout(r, 500));
        this.#discard();
        await this.#consumer!.close().catch(() => {});
        await this.#release([...this.#owned.keys()]);
        await this.#releaseLocal();
        await this.#join().catch((e) => this.#log('error', e, 'pipeline stage could not rejoin'));
      }
    }
  }

  async #process(records: ConsumedRecord[]): Promise<void> {
    // When each record was seen matters only to idleness (a partition silent for idleAfter).
    const now = this.#o.clock.now();
    // A poll's records come in runs of one partition: its task and offset are looked up once a run
    // (and again after anything awaited, which may have committed or moved partitions).
    let partition = -1;
    let task: PipelineTask | null = null;
    let read: TopicPartitionOffset | undefined;
    for (const r of records) {
      if (r.partition !== partition) {
        partition = r.partition;
        task = this.#owned.get(partition)?.task ?? null;
        if (task === null) {
          task = await this.#task(partition);
          partition = -1;
        }
        // Only a partition still owned gets an offset to commit.
        read = task === null ? undefined : this.#readOf(r);
      }
      if (task === null) continue;
      task.process(r, now);
      this.#processed++;
      read!.offset = r.offset + 1;
      // Backpressure: what is held is committed before more is read.
      if (this.#pendingBytes > this.#o.maxPendingBytes) {
        await this.#flush();
        partition = -1;
      }
    }
  }

  /**
   * Once a poll's records are all processed, each task's offset to commit moves on to the consumer's
   * position: past the transaction markers after its last record too, which take offsets but are no
   * records, so a group that has caught up with a transactional topic shows no lag (Kafka Streams
   * commits its consumer's position for the same reason). A partition's first position is only
   * noted: it is where the group's committed offset put the consumer.
   */
  #readToPositions(): void {
    const topic = this.#o.stage.input;
    for (const [partition, { task }] of this.#owned) {
      if (task === null) continue;
      const position = this.#consumer!.position(topic, partition);
      if (position === undefined) continue;
      const read = this.#toCommit.get(partition);
      const done = read?.offset ?? this.#committed.get(partition);
      if (done === undefined) this.#committed.set(partition, position);
      else if (position > done)
        if (read) read.offset = position;
        else this.#toCommit.set(partition, { topic, partition, offset: position });
    }
  }

  /** The offset to commit for a record's partition, moved on in place as its records are processed. */
  #readOf(r: ConsumedRecord): TopicPartitionOffset {
    let read = this.#toCommit.get(r.partition);
    if (read === undefined) {
      read = { topic: r.topic, partition: r.partition, offset: r.offset };
      this.#toCommit.set(r.partition, read);
    }
    return read;
  }

  #hold(record: ProducerRecord): void {
    this.#pending.push(record);
    this.#pendingBytes += (record.key?.length ?? 0) + (record.value?.length ?? 0) + 64;
  }

  /** Says when a source partition goes idle and when it comes back: a silent partition is often a fault upstream. */
  #noticeIdle(): void {
    if (this.#o.stage.from !== 1) return;
    const { logger } = this.#o;
    const pipeline = this.#chain;
    for (const [partition, { task }] of this.#owned) {
      if (!task) continue;
      if (task.idle && !this.#idle.has(partition)) {
        this.#idle.add(partition);
        logger.warn(
          {
            pipeline: pipeline.name,
            topic: this.#o.stage.input,
            partition,
            idleAfterMs: pipeline.source.idleAfter,
          },
          'source partition is idle: windows no longer wait for it',
        );
      } else if (!task.idle && this.#idle.delete(partition))
        logger.info(
          { pipeline: pipeline.name, topic: this.#o.stage.input, partition },
          'source partition active again',
        );
    }
    for (const partition of this.#idle) if (!this.#owned.has(partition)) this.#idle.delete(partition);
  }

  /**
   * After the records of a poll, each task's watermark where it moved (or its source went idle): on
   * every partition of the repartition topic, or to every local task of the next stage.
   */
  #watermarks(): void {
    const topic = this.#o.stage.output;
    if (topic === null || this.#chain.source.processingTime) return;
    const base = this.#o.upstreamBase ?? 0;
    for (const [partition, { task }] of this.#owned) {
      if (!task) continue;
      const { watermark, idle } = task;
      if (watermark === NO_WATERMARK && !idle) continue;
      const said = `${watermark}/${idle}`;
      if (this.#sent.get(partition) === said) continue;
      this.#sent.set(partition, said);
      if (this.#local)
        for (const [to, local] of this.#local.owned)
          local.task!.upstreamWatermark(to, base + partition, watermark, idle);
      else
        this.#pending.push(
          ...watermarkRecords(topic, this.#o.outputPartitions, base + partition, watermark, idle),
        );
    }
  }

  /**
   * Sends what the tasks produced, their state changes and the offsets read, in one transaction;
   * once it has committed, the stores take the changes with the changelog offsets they reach.
   */
  #flush(): Promise<void> {
    const run = this.#flushing.then(async () => {
      try {
        await this.#commit();
      } catch (error) {
        // A sink topic deleted while the pipeline runs: its records become dead letters, once.
        if (!(error instanceof UnknownTopicError) || !(await this.#missingSinks())) throw error;
        await this.#commit();
      }
    });
    this.#flushing = run.catch(() => {});
    return run;
  }

  #rejoinIfAsked(): void {
    const error = this.#mustRejoin;
    if (error === null) return;
    this.#mustRejoin = null;
    throw error;
  }

  async #commit(): Promise<void> {
    const changed: Array<{ store: StateStore; topic: string; partition: number; input: boolean }> = [];
    const records = [...this.#pending];
    this.#sentOutputs = records.length;
    for (const [partition, { task }, tasks] of this.#tasks()) {
      if (!task) continue;
      task.checkpoint();
      for (const [step, store] of task.stores) {
        if (store.pendingCount === 0) continue;
        const topic = changelogTopic(this.#o.pipeline, step);
        // A local task's partition is the repartition topic's, which it does not read: no offset.
        changed.push({ store, topic, partition, input: tasks === this.#own });
        if (this.#o.changelogs)
          for (const r of changelogRecords(topic, partition, store.changes())) records.push(r);
      }
    }
    if (records.length === 0 && this.#toCommit.size === 0) return;
    // One transaction's store writes in flight at a time: memory holds at most two of them.
    await this.#storing;
    const offsets = [...this.#toCommit.values()];
    const started = performance.now();
    const txn = await this.#producer!.beginTransaction();
    let written: Awaited<ReturnType<typeof txn.commit>>;
    try {
      if (records.length > 0) await txn.send(records);
      if (offsets.length > 0) await txn.sendOffsets(this.#consumer!.groupMetadata(), offsets);
      written = await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => {});
      throw error;
    }
    if (committed.hasSubscribers)
      committed.publish({
        pipeline: this.#o.pipeline.name,
        stage: this.#o.stage.index,
        seconds: (performance.now() - started) / 1000,
        records: records.length,
      });
    if (deadLettered.hasSubscribers)
      for (const letters of this.#letters.values())
        deadLettered.publish({ pipeline: this.#o.pipeline.name, ...letters });
    this.#letters.clear();
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const o of offsets) this.#committed.set(o.partition, o.offset);
    this.#toCommit.clear();
    // Changelog records were sent last: only their offsets are looked at.
    const next =
      changed.length === 0 ? new Map<string, number>() : nextOffsets(written.slice(this.#sentOutputs));
    const input = new Map(offsets.map((o) => [o.partition, o.offset]));
    // The stores take the writes once the bus has them, on lmdb's thread, while the loop goes on
    // (reads see them meanwhile; see OverlayStore). A failure there rejoins: the store holds the
    // last good commit's offsets, and its changelog has the rest.
    this.#storing = Promise.all(
      changed.map(({ store, topic, partition, input: reads }) =>
        store.commit({
          changelogOffset: next.get(tpKey(topic, partition)) ?? 0,
          inputOffset: (reads ? input.get(partition) : undefined) ?? store.meta()?.inputOffset ?? -1,
        }),
      ),
    ).then(
      () => {},
      (error: unknown) => {
        this.#mustRejoin ??= error;
      },
    );
  }

  /**
   * Replaces the held records of topics that no longer exist with dead letters pointing at the input
   * record each came from. False if every topic is there (or the dead-letter topic itself is gone).
   */
  async #missingSinks(): Promise<boolean> {
    const { bus, pipeline, deadLetterTopic } = this.#o;
    const missing = new Set<string>();
    for (const topic of new Set(this.#pending.map((r) => r.topic)))
      if (
        await bus.describeTopic(topic).then(
          () => false,
          (e: unknown) => e instanceof UnknownTopicError,
        )
      )
        missing.add(topic);
    if (missing.size === 0 || missing.has(deadLetterTopic)) return false;
    this.#pending = this.#pending.map((r) => {
      if (!missing.has(r.topic)) return r;
      const from = (r as HeldRecord).from ?? null;
      const step = pipeline.steps.find(
        (s) => (s.kind === 'toTopic' || s.kind === 'toView') && s.topic === r.topic,
      );
      return this.#deadLetter({
        kind: from ? 'record' : 'result',
        reason: 'error',
        pipeline: pipeline.name,
        step: step?.name ?? r.topic,
        errorClass: 'UnknownTopicError',
        message: `The pipeline's output topic '${r.topic}' does not exist (deleted while the pipeline ran?)`,
        topic: from?.topic ?? this.#o.stage.input,
        partition: from?.partition ?? -1,
        offset: from?.offset ?? -1,
        key: r.key ?? null,
        ...letterValue(r.value ?? Buffer.alloc(0)),
      });
    });
    this.#log(
      'warn',
      null,
      `output topics gone: ${[...missing].join(', ')}; their records went to the dead letters`,
    );
    return true;
  }

  /** A dead letter's record, counted for the transaction that will carry it. */
  #deadLetter(letter: DeadLetter): ProducerRecord {
    const key = `${letter.step}\0${letter.reason}`;
    const counted = this.#letters.get(key);
    if (counted) counted.count++;
    else this.#letters.set(key, { step: letter.step, reason: letter.reason, count: 1 });
    return deadLetterRecord(this.#o.deadLetterTopic, letter);
  }

  /**
   * After each poll, what the stages' steps counted since the last one and their watermarks, for
   * whoever listens (see ops/). With no one, the counts keep adding up.
   */
  #publish(records: number): void {
    if (!polled.hasSubscribers) return;
    const pipeline = this.#o.pipeline.name;
    for (const tasks of this.#local ? [this.#own, this.#local] : [this.#own]) {
      const steps = new Map<string, StepCount>();
      let watermark = Number.POSITIVE_INFINITY;
      for (const { task } of tasks.owned.values()) {
        if (task === null) continue;
        if (task.watermark !== NO_WATERMARK) watermark = Math.min(watermark, task.watermark);
        // A step's out may be the next one's in: every counter is read before any is reset.
        const counters = [...task.counts];
        for (const count of counters.map((c) => c.reading())) {
          if (count.in === 0 && count.out === 0 && count.late === 0) continue;
          const sum = steps.get(count.step);
          if (sum) {
            sum.in += count.in;
            sum.out += count.out;
            sum.late += count.late;
          } else steps.set(count.step, count);
        }
        for (const c of counters) c.reset();
      }
      polled.publish({
        pipeline,
        stage: tasks.stage.index,
        records: tasks === this.#own ? records : 0,
        steps: [...steps.values()],
        watermark: Number.isFinite(watermark) ? watermark : null,
      });
    }
  }

  /** Drops what a failed poll left: output, offsets and the stores' pending writes. */
  #discard(): void {
    this.#pending = [];
    this.#letters.clear();
    this.#committed.clear();
    this.#pendingBytes = 0;
    this.#toCommit.clear();
    this.#sent.clear();
    for (const [, owned] of this.#tasks()) for (const store of owned.stores.values()) store.discard();
  }

  /**
   * A stage reading a repartition topic deletes the records below what it has committed, every
   * `purgeIntervalMs`: it is the topic's only reader, and nothing reads a repartition topic again
   * (recovery reads the changelogs), so the topic holds only what is in flight.
   */
  async #purge(): Promise<void> {
    if (this.#o.stage.from === 1) return;
    const now = this.#o.clock.now();
    if (now - this.#lastPurge < this.#o.purgeIntervalMs) return;
    this.#lastPurge = now;
    const topic = this.#o.stage.input;
    const owned = new Set(this.#owned.keys());
    const committed = (await this.#o.bus.committedOffsets(this.group, topic)).filter((o) =>
      owned.has(o.partition),
    );
    if (committed.length === 0) return;
    await this.#o.bus
      .deleteRecords(
        topic,
        committed.map((o) => ({ partition: o.partition, offset: o.offset })),
      )
      .catch((error: unknown) => this.#log('warn', error, 'could not purge a repartition topic'));
  }

  #log(level: 'warn' | 'error', error: unknown, message: string): void {
    this.#o.logger[level](
      { err: error, pipeline: this.#o.pipeline.name, stage: this.#o.stage.index },
      message,
    );
  }
}
