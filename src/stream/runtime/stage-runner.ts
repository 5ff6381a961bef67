import { randomUUID } from 'node:crypto';
import {
  type Clock,
  type ConsumedRecord,
  GroupFencedError,
  type Logger,
  type ProducerRecord,
  type TopicPartition,
  type TopicPartitionOffset,
  tpKey,
} from '../../core/index.ts';
import type { Bus, Consumer, Producer } from '../../log/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import { NO_WATERMARK } from '../time/watermarks.ts';
import { deadLetterRecord } from './dead-letter-record.ts';
import { PipelineTask } from './pipeline-task.ts';
import { watermarkRecords } from './repartition-record.ts';
import type { Stage } from './stages.ts';

export interface StageRunnerOptions {
  bus: Bus;
  pipeline: Pipeline;
  stage: Stage;
  /** Partitions of the repartition topic the stage writes (0 when it writes none). */
  outputPartitions: number;
  /** For a stage reading a repartition topic: partitions of the stage before's input (its tasks). */
  upstreams?: number;
  deadLetterTopic: string;
  clock: Clock;
  logger: Logger;
  tickMs: number;
}

/**
 * One stage of a pipeline over the bus: a member of the stage's consumer group with one task per
 * input partition it owns. Because a stage's input is partitioned by what its windows group by (the
 * source for the first stage, a repartition topic after a keyBy), a task's state belongs to its
 * partition. What the tasks produce is sent after each poll, followed, for a stage that writes a
 * repartition topic, by each task's watermark on every partition of it.
 *
 * Every stage sends its output and commits the offsets it read in one transaction, fenced to this
 * member of the group (Kafka's KIP-447), so what it writes is written exactly once, also across a
 * crash or a rebalance. A stage with windows keeps them in memory: when a partition comes to a runner
 * (after a restart or a rebalance), its task is rebuilt before its first record by reading the
 * partition from the start up to the group's committed offset with its output dropped — that output
 * was committed already — which puts the windows where they were. (The next engine issue replaces the
 * read from the start with checkpoints.)
 */
export class StageRunner {
  readonly #o: StageRunnerOptions;
  readonly #stateful: boolean;
  readonly #tasks = new Map<number, PipelineTask>();
  /** Partitions whose task has not been rebuilt yet (stateful stages). */
  readonly #unbuilt = new Set<number>();
  /** While a task is rebuilt, what it produces was committed before: it is dropped. */
  #rebuilding = false;
  /** The watermark (and idleness) each task last sent downstream. */
  readonly #sent = new Map<number, string>();
  /** Offsets read whose output is not committed yet. */
  readonly #toCommit = new Map<string, TopicPartitionOffset>();
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #pending: ProducerRecord[] = [];
  #inFlight: Promise<void> = Promise.resolve();
  #running: Promise<void> | null = null;
  #stopped = false;
  #processed = 0;

  constructor(options: StageRunnerOptions) {
    this.#o = options;
    const { steps } = options.pipeline;
    this.#stateful = steps
      .slice(options.stage.from, (options.stage.until ?? steps.length - 1) + 1)
      .some((s) => s.kind === 'window');
  }

  /** Records processed so far. */
  get processed(): number {
    return this.#processed;
  }

  /** The consumer group: the pipeline's own for the first stage, one per stage after that. */
  get group(): string {
    const { pipeline, stage } = this.#o;
    return stage.index === 0
      ? `kappa-pipeline-${pipeline.name}`
      : `kappa-pipeline-${pipeline.name}-${stage.index}`;
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
    await this.#flush().catch(() => {});
    await this.#consumer?.close();
    await this.#producer?.close();
  }

  async #join(): Promise<void> {
    this.#consumer = this.#o.bus.consumer({
      group: this.group,
      reset: 'earliest',
      onAssigned: (partitions) => this.#assigned(partitions),
      onRevoked: (partitions) => this.#revoked(partitions),
    });
    await this.#consumer.subscribe([this.#o.stage.input]);
  }

  /** A task per partition; a stateful one is rebuilt before its first record. */
  #assigned(partitions: TopicPartition[]): void {
    for (const { partition } of partitions) {
      if (this.#stateful) this.#unbuilt.add(partition);
      this.#tasks.set(
        partition,
        new PipelineTask(this.#o.pipeline, {
          partitions: [partition],
          clock: this.#o.clock,
          stage: this.#o.stage,
          ...(this.#o.upstreams === undefined ? {} : { upstreams: this.#o.upstreams }),
          output: {
            send: (topic, key, value) => {
              if (!this.#rebuilding) this.#pending.push({ topic, key, value });
            },
            deadLetter: (letter) => {
              if (!this.#rebuilding) this.#pending.push(deadLetterRecord(this.#o.deadLetterTopic, letter));
            },
          },
        }),
      );
    }
  }

  /** A partition's transaction ends before another member may read the partition. */
  async #revoked(partitions: TopicPartition[]): Promise<void> {
    await this.#inFlight.catch(() => {});
    for (const { topic, partition } of partitions) {
      this.#tasks.delete(partition);
      this.#unbuilt.delete(partition);
      this.#sent.delete(partition);
      this.#toCommit.delete(tpKey(topic, partition));
    }
  }

  async #loop(): Promise<void> {
    let lastTick = this.#o.clock.now();
    while (!this.#stopped) {
      try {
        const records = await this.#consumer!.poll({
          timeoutMs: Math.min(200, this.#o.tickMs),
          maxRecords: 2000,
        });
        await this.#process(records).catch((error: unknown) => {
          throw new TaskFailed(error);
        });
        const now = this.#o.clock.now();
        if (now - lastTick >= this.#o.tickMs) {
          lastTick = now;
          for (const [partition, task] of this.#tasks) if (!this.#unbuilt.has(partition)) task.tick();
        }
        this.#watermarks();
        this.#inFlight = this.#flush();
        await this.#inFlight;
      } catch (error) {
        if (this.#stopped) return;
        if (error instanceof GroupFencedError || error instanceof TaskFailed) {
          // Nothing of this poll is committed: rejoin, and go on from the group's committed offsets.
          this.#log('warn', error, 'pipeline stage rejoining its group');
          if (error instanceof TaskFailed) await new Promise((r) => setTimeout(r, 500));
          this.#pending = [];
          this.#toCommit.clear();
          this.#tasks.clear();
          this.#unbuilt.clear();
          this.#sent.clear();
          await this.#consumer!.close().catch(() => {});
          await this.#join().catch((e) => this.#log('error', e, 'pipeline stage could not rejoin'));
          continue;
        }
        this.#log('error', error, 'pipeline poll failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async #process(records: ConsumedRecord[]): Promise<void> {
    for (const r of records) {
      const task = this.#tasks.get(r.partition);
      if (!task) continue;
      if (this.#unbuilt.has(r.partition)) {
        // The group hands the partition over at its committed offset: this record's.
        await this.#rebuild(task, r.topic, r.partition, r.offset);
        this.#unbuilt.delete(r.partition);
      }
      task.process(r);
      this.#processed++;
      this.#toCommit.set(tpKey(r.topic, r.partition), {
        topic: r.topic,
        partition: r.partition,
        offset: r.offset + 1,
      });
    }
  }

  /** Reads a partition from its start up to `end` into its task, dropping what that produces. */
  async #rebuild(task: PipelineTask, topic: string, partition: number, end: number): Promise<void> {
    if (end === 0) return;
    const reader = this.#o.bus.consumer({ isolation: 'read_committed' });
    this.#rebuilding = true;
    try {
      await reader.assign([{ topic, partition, offset: 0 }]);
      for (;;) {
        const records = await reader.poll({ timeoutMs: 1000, maxRecords: 5000 });
        for (const r of records) if (r.offset < end) task.process(r);
        const position = reader.position(topic, partition) ?? 0;
        if (position >= end || (records.length > 0 && records.at(-1)!.offset >= end - 1)) break;
      }
    } finally {
      this.#rebuilding = false;
      await reader.close();
    }
    this.#o.logger.info(
      { pipeline: this.#o.pipeline.name, stage: this.#o.stage.index, partition, records: end },
      'pipeline task rebuilt',
    );
  }

  /** After the records of a poll, each task's watermark where it moved (or its source went idle). */
  #watermarks(): void {
    const topic = this.#o.stage.output;
    if (topic === null || this.#o.pipeline.source.processingTime) return;
    for (const [partition, task] of this.#tasks) {
      const { watermark, idle } = task;
      if (watermark === NO_WATERMARK && !idle) continue;
      const said = `${watermark}/${idle}`;
      if (this.#sent.get(partition) === said) continue;
      this.#sent.set(partition, said);
      this.#pending.push(...watermarkRecords(topic, this.#o.outputPartitions, partition, watermark, idle));
    }
  }

  /**
   * Sends what the tasks produced with the offsets read, in one transaction. On failure it stays
   * pending and goes with the next flush.
   */
  async #flush(): Promise<void> {
    if (this.#pending.length === 0 && this.#toCommit.size === 0) return;
    const offsets = [...this.#toCommit.values()];
    const txn = await this.#producer!.beginTransaction();
    try {
      if (this.#pending.length > 0) await txn.send(this.#pending);
      if (offsets.length > 0) await txn.sendOffsets(this.#consumer!.groupMetadata(), offsets);
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => {});
      throw error;
    }
    this.#pending = [];
    for (const o of offsets)
      if (this.#toCommit.get(tpKey(o.topic, o.partition))?.offset === o.offset)
        this.#toCommit.delete(tpKey(o.topic, o.partition));
  }

  #log(level: 'warn' | 'error', error: unknown, message: string): void {
    this.#o.logger[level](
      { err: error, pipeline: this.#o.pipeline.name, stage: this.#o.stage.index },
      message,
    );
  }
}

/**
 * A task failed on a poll's records (its rebuild, or an internal error): the records after it were
 * polled but not processed, so nothing of the poll is committed and the runner rejoins to read them again.
 */
class TaskFailed extends Error {
  constructor(cause: unknown) {
    super(`A pipeline task failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
