import {
  type Clock,
  type Logger,
  type ProducerRecord,
  silentLogger,
  systemClock,
  type TopicPartition,
  UnknownTopicError,
} from '../../core/index.ts';
import type { Bus, Consumer, Producer } from '../../log/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import { deadLetterRecord } from './dead-letter-record.ts';
import { PipelineTask } from './pipeline-task.ts';

export interface PipelineRunnerOptions {
  bus: Bus;
  pipeline: Pipeline;
  /** Where poison and late records go. Default `dead-letters`. */
  deadLetterTopic?: string;
  clock?: Clock;
  logger?: Logger;
  /** How often processing time is looked at (idleness, processing-time windows, early firings). Default 1 s. */
  tickMs?: number;
}

/**
 * Runs a pipeline over the bus: a member of the consumer group `kappa-pipeline-<name>`, with tasks over
 * the source partitions it owns. Outputs and dead letters are produced after each poll.
 *
 * Until checkpoints arrive (the next engine issue), window state lives only in memory: the group
 * commits no offsets, and a runner reads its partitions from the beginning, rebuilding state from the
 * log — the Kappa architecture's replay — so a restart repeats outputs but loses nothing.
 */
export class PipelineRunner {
  readonly pipeline: Pipeline;
  readonly deadLetterTopic: string;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tickMs: number;
  readonly #tasks = new Map<number, PipelineTask>();
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #pending: ProducerRecord[] = [];
  #running: Promise<void> | null = null;
  #stopped = false;
  #processed = 0;

  constructor(options: PipelineRunnerOptions) {
    this.pipeline = options.pipeline;
    this.#bus = options.bus;
    this.deadLetterTopic = options.deadLetterTopic ?? 'dead-letters';
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#tickMs = options.tickMs ?? 1000;
  }

  /** Records read so far. */
  get processed(): number {
    return this.#processed;
  }

  async start(): Promise<void> {
    const source = this.pipeline.source.topic;
    await this.#bus.describeTopic(source);
    await this.#ensureTopic(this.deadLetterTopic);
    for (const step of this.pipeline.steps)
      if (step.kind === 'toTopic') await this.#ensureTopic(step.topic);
      else if (step.kind === 'window' && step.lateTopic) await this.#ensureTopic(step.lateTopic);
    this.#producer = this.#bus.producer();
    this.#consumer = this.#bus.consumer({
      group: `kappa-pipeline-${this.pipeline.name}`,
      reset: 'earliest',
      onAssigned: (partitions) => this.#assigned(partitions),
      onRevoked: (partitions) => this.#revoked(partitions),
    });
    await this.#consumer.subscribe([source]);
    this.#running = this.#loop();
    this.#logger.info({ pipeline: this.pipeline.name, source }, 'pipeline started');
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
   * Stateless pipelines get one task per partition. Keyed (windowed) ones get one task over every
   * partition this runner owns: a key may come on any source partition, and until the repartition
   * topic lands (records sent on by key, as Kafka Streams does) one task must see all of a key's
   * records. The task's watermark is then the minimum over those partitions, as it must be. (A
   * rebalance that adds partitions starts a new task; without checkpoints or commits it cannot pick
   * up the old one's state, which the next engine issue brings.)
   */
  #assigned(partitions: TopicPartition[]): void {
    const keyed = this.pipeline.steps.some((s) => s.kind === 'window');
    const owned = keyed ? [...new Set([...this.#tasks.keys(), ...partitions.map((p) => p.partition)])] : [];
    if (keyed) {
      const task = this.#task(owned);
      for (const p of owned) this.#tasks.set(p, task);
      return;
    }
    for (const { partition } of partitions) this.#tasks.set(partition, this.#task([partition]));
  }

  #task(partitions: number[]): PipelineTask {
    return new PipelineTask(this.pipeline, {
      partitions,
      clock: this.#clock,
      output: {
        send: (topic, key, value) => {
          this.#pending.push({ topic, key, value });
        },
        deadLetter: (letter) => {
          this.#pending.push(deadLetterRecord(this.deadLetterTopic, letter));
        },
      },
    });
  }

  #revoked(partitions: TopicPartition[]): void {
    for (const { partition } of partitions) this.#tasks.delete(partition);
  }

  async #loop(): Promise<void> {
    let lastTick = this.#clock.now();
    while (!this.#stopped) {
      try {
        const records = await this.#consumer!.poll({
          timeoutMs: Math.min(200, this.#tickMs),
          maxRecords: 2000,
        });
        for (const r of records) {
          const task = this.#tasks.get(r.partition);
          if (!task) continue;
          task.process(r);
          this.#processed++;
        }
        const now = this.#clock.now();
        if (now - lastTick >= this.#tickMs) {
          lastTick = now;
          for (const task of new Set(this.#tasks.values())) task.tick();
        }
        await this.#flush();
      } catch (error) {
        if (this.#stopped) return;
        this.#logger.error({ err: error, pipeline: this.pipeline.name }, 'pipeline poll failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Sends what the tasks produced; on failure it stays pending and goes with the next flush. */
  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    await this.#producer!.send(this.#pending);
    this.#pending = [];
  }

  async #ensureTopic(topic: string): Promise<void> {
    try {
      await this.#bus.describeTopic(topic);
    } catch (error) {
      if (!(error instanceof UnknownTopicError)) throw error;
      await this.#bus.createTopic(topic, { partitions: 1 }).catch(async (create) => {
        await this.#bus.describeTopic(topic).catch(() => {
          throw create;
        });
      });
    }
  }
}
