import type { Clock, Logger, ProducerRecord, TopicPartition } from '../../core/index.ts';
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
 * Until checkpoints (the next engine issue), only stateless stages commit offsets, after their output
 * is sent (at least once). A stateful stage commits nothing: a partition that moves is read again
 * from the start by its new owner, which rebuilds the windows and repeats their results.
 */
export class StageRunner {
  readonly #o: StageRunnerOptions;
  readonly #tasks = new Map<number, PipelineTask>();
  /** The watermark (and idleness) each task last sent downstream. */
  readonly #sent = new Map<number, string>();
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #pending: ProducerRecord[] = [];
  #running: Promise<void> | null = null;
  #stopped = false;
  processed = 0;

  /** A stage with no windows keeps no state: it can commit what it has read once its output is sent. */
  readonly #stateless: boolean;

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
    this.#producer = this.#o.bus.producer();
    this.#consumer = this.#o.bus.consumer({
      group: this.group,
      reset: 'earliest',
      onAssigned: (partitions) => this.#assigned(partitions),
      onRevoked: (partitions) => this.#revoked(partitions),
    });
    await this.#consumer.subscribe([this.#o.stage.input]);
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#running;
    await this.#consumer?.close();
    await this.#flush().catch(() => {});
    await this.#producer?.close();
  }

  /**
   * A task per partition. (A partition that moves to another runner starts there from scratch: without
   * checkpoints or commits its state cannot follow it; the next engine issue brings them.)
   */
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

  /** A stateless stage hands over at the offset it has sent output for; a stateful one, from the start. */
  async #revoked(partitions: TopicPartition[]): Promise<void> {
    if (this.#stateless) {
      await this.#flush();
      await this.#commit(partitions);
    }
    for (const { partition } of partitions) {
      this.#tasks.delete(partition);
      this.#sent.delete(partition);
    }
  }

  async #commit(partitions: TopicPartition[]): Promise<void> {
    const offsets = partitions.flatMap(({ topic, partition }) => {
      const offset = this.#consumer!.position(topic, partition);
      return offset === undefined ? [] : [{ topic, partition, offset }];
    });
    if (offsets.length > 0) await this.#consumer!.commit(offsets);
  }

  async #loop(): Promise<void> {
    let lastTick = this.#o.clock.now();
    while (!this.#stopped) {
      try {
        const records = await this.#consumer!.poll({
          timeoutMs: Math.min(200, this.#o.tickMs),
          maxRecords: 2000,
        });
        for (const r of records) {
          const task = this.#tasks.get(r.partition);
          if (!task) continue;
          task.process(r);
          this.processed++;
        }
        const now = this.#o.clock.now();
        if (now - lastTick >= this.#o.tickMs) {
          lastTick = now;
          for (const task of this.#tasks.values()) task.tick();
        }
        this.#watermarks();
        await this.#flush();
        if (this.#stateless && records.length > 0) await this.#commit(this.#consumer!.assignment());
      } catch (error) {
        if (this.#stopped) return;
        this.#o.logger.error(
          { err: error, pipeline: this.#o.pipeline.name, stage: this.#o.stage.index },
          'pipeline poll failed; retrying',
        );
        await new Promise((r) => setTimeout(r, 500));
      }
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

  /** Sends what the tasks produced; on failure it stays pending and goes with the next flush. */
  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    await this.#producer!.send(this.#pending);
    this.#pending = [];
  }
}
