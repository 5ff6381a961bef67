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
 * A stage without windows keeps no state, so it sends its output and commits the offsets it read in
 * one transaction, fenced to this member of the group (Kafka's KIP-447): what it hands on is handed on
 * exactly once, also across a crash or a rebalance. Until checkpoints (the next engine issue), a stage
 * with windows commits nothing: a partition that moves, or a restarted runner, reads it again from
 * the start, rebuilding the windows and repeating their results.
 */
export class StageRunner {
  readonly #o: StageRunnerOptions;
  readonly #stateless: boolean;
  readonly #tasks = new Map<number, PipelineTask>();
  /** The watermark (and idleness) each task last sent downstream. */
  readonly #sent = new Map<number, string>();
  /** Offsets read whose output is not committed yet (stateless stages). */
  readonly #toCommit = new Map<string, TopicPartitionOffset>();
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #pending: ProducerRecord[] = [];
  #inFlight: Promise<void> = Promise.resolve();
  #running: Promise<void> | null = null;
  #stopped = false;
  processed = 0;

  constructor(options: StageRunnerOptions) {
    this.#o = options;
    const { steps } = options.pipeline;
    this.#stateless = !steps
      .slice(options.stage.from, (options.stage.until ?? steps.length - 1) + 1)
      .some((s) => s.kind === 'window');
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
    this.#producer = this.#o.bus.producer(
      this.#stateless ? { transactionalId: `${this.group}-${randomUUID()}` } : {},
    );
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

  /** A task per partition: from scratch (the next engine issue brings checkpoints to start from). */
  #assigned(partitions: TopicPartition[]): void {
    for (const { partition } of partitions)
      this.#tasks.set(
        partition,
        new PipelineTask(this.#o.pipeline, {
          partitions: [partition],
          clock: this.#o.clock,
          stage: this.#o.stage,
          ...(this.#o.upstreams === undefined ? {} : { upstreams: this.#o.upstreams }),
          output: {
            send: (topic, key, value) => {
              this.#pending.push({ topic, key, value });
            },
            deadLetter: (letter) => {
              this.#pending.push(deadLetterRecord(this.#o.deadLetterTopic, letter));
            },
          },
        }),
      );
  }

  /** A partition's transaction ends before another member may read the partition. */
  async #revoked(partitions: TopicPartition[]): Promise<void> {
    await this.#inFlight.catch(() => {});
    for (const { topic, partition } of partitions) {
      this.#tasks.delete(partition);
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
        this.#process(records);
        const now = this.#o.clock.now();
        if (now - lastTick >= this.#o.tickMs) {
          lastTick = now;
          for (const task of this.#tasks.values()) task.tick();
        }
        this.#watermarks();
        this.#inFlight = this.#flush();
        await this.#inFlight;
      } catch (error) {
        if (this.#stopped) return;
        if (error instanceof GroupFencedError) {
          // The transaction was aborted: rejoin, and go on from the group's committed offsets.
          this.#log('warn', error, 'pipeline stage fenced by a rebalance; rejoining');
          this.#pending = [];
          this.#toCommit.clear();
          this.#tasks.clear();
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

  #process(records: ConsumedRecord[]): void {
    for (const r of records) {
      const task = this.#tasks.get(r.partition);
      if (!task) continue;
      task.process(r);
      this.processed++;
      if (this.#stateless)
        this.#toCommit.set(tpKey(r.topic, r.partition), {
          topic: r.topic,
          partition: r.partition,
          offset: r.offset + 1,
        });
    }
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
   * Sends what the tasks produced: with the offsets read, in one transaction, from a stateless stage.
   * On failure it stays pending and goes with the next flush.
   */
  async #flush(): Promise<void> {
    if (!this.#stateless) {
      if (this.#pending.length === 0) return;
      await this.#producer!.send(this.#pending);
      this.#pending = [];
      return;
    }
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
