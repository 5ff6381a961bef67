import path from 'node:path';
import {
  type Clock,
  InvalidArgumentError,
  type Logger,
  silentLogger,
  systemClock,
} from '../../core/index.ts';
import { type Bus, type Consumer, type ConsumerOptions, ensureTopic } from '../../log/index.ts';
import type { SchemaRegistry } from '../../registry/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import { isTwoInput, type Step } from '../dsl/steps.ts';
import type { SerdeContext } from '../serdes/serde.ts';
import { changelogSpec } from './changelog.ts';
import { StageRunner } from './stage-runner.ts';
import { planStages, type Stage, stageGroup, stagePipeline, upstreamStages } from './stages.ts';
import { TableReader } from './table-reader.ts';

const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;

export interface PipelineRunnerOptions {
  bus: Bus;
  pipeline: Pipeline;
  /** Where poison and late records go. Default `dead-letters`. */
  deadLetterTopic?: string;
  clock?: Clock;
  logger?: Logger;
  /** How often processing time is looked at (idleness, processing-time windows, early firings). Default 1 s. */
  tickMs?: number;
  /**
   * Where window state is kept on disk (lmdb, a folder per task), so a restart restores only the
   * changelogs' tails. Default none: state in memory, restored from the changelogs at every start.
   */
  stateDir?: string;
  /** Where checkpoints of task state go (a `checkpoints` folder in it). Default the parent of `stateDir`. */
  checkpointDir?: string;
  /** How often each task's state is checkpointed (with `stateDir`). Default 5 minutes. */
  checkpointIntervalMs?: number;
  /**
   * Default true. False writes no changelogs and starts every task with empty state: what was in a
   * window is lost on a restart or a rebalance. For benchmarks (the changelogs' cost) and throwaway
   * pipelines only.
   */
  changelogs?: boolean;
  /** How often repartition topics are purged below what their reader committed. Default 10 s. */
  purgeIntervalMs?: number;
  /** The largest record the bus takes (an output larger is a dead letter). Default 1 MiB. */
  maxRecordBytes?: number;
  /** Output a stage holds before it commits, whatever is left of its poll. Default 16 MiB. */
  maxPendingBytes?: number;
  /** How often a stage that is behind commits (wall-clock ms; caught up, it commits after every poll). Default 1000. */
  commitIntervalMs?: number;
  /**
   * Memory for each task's windows and for each table's decoded rows, with `stateDir` (estimated
   * bytes). Past it, windows unchanged since the last commit leave memory and are read back from
   * lmdb when needed, and so are rows. Default 128 MiB.
   */
  cacheBytes?: number;
  /**
   * True: this runner is the pipeline's only one (`kappa up` on the embedded log, which one process
   * owns), so a pipeline cut once, without a join of two streams, runs both stages in one loop with
   * its elements handed over in memory rather than through the repartition topic (see StageRunner).
   * Default false: every stage is a consumer group of its own, which other processes may join.
   */
  localExchange?: boolean;
  /** The schema registry, for serdes that read Confluent's wire format (`changes()`, `cdcTable()`). */
  registry?: SchemaRegistry;
  /**
   * The consumer for a source read `fromArchive` (see `historyConsumer` in archive/): the archive
   * for what the log's retention deleted, then the log. A pipeline with such a source needs it.
   */
  history?: (options: ConsumerOptions) => Consumer;
}

/**
 * Runs a pipeline over the bus: a runner per stage (see `planStages`), each a member of its stage's
 * consumer group, so several processes running the same pipeline share its partitions and every
 * record of a key still meets in one task. Internal repartition topics are made here, with as many
 * partitions as the source.
 *
 * Each stage commits its output, its state changes and its offsets together (see StageRunner), so
 * what a pipeline writes is written once across crashes and rebalances, and a task's state follows
 * its partition through the changelog topics made here (compacted, one partition per task).
 */
export class PipelineRunner {
  readonly pipeline: Pipeline;
  readonly deadLetterTopic: string;
  readonly stages: readonly Stage[];
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #registry: SchemaRegistry | undefined;
  readonly #tickMs: number;
  readonly #stateDir: string | null;
  readonly #purgeIntervalMs: number;
  readonly #limits: Pick<
    PipelineRunnerOptions,
    | 'maxRecordBytes'
    | 'maxPendingBytes'
    | 'commitIntervalMs'
    | 'checkpointDir'
    | 'checkpointIntervalMs'
    | 'changelogs'
    | 'cacheBytes'
    | 'localExchange'
    | 'history'
  >;
  readonly #runners: StageRunner[] = [];
  readonly #tables = new Map<string, TableReader>();
  #stopped = false;

  constructor(options: PipelineRunnerOptions) {
    this.pipeline = options.pipeline;
    this.stages = planStages(options.pipeline);
    this.#bus = options.bus;
    this.deadLetterTopic = options.deadLetterTopic ?? 'dead-letters';
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#registry = options.registry;
    this.#tickMs = options.tickMs ?? 1000;
    this.#stateDir = options.stateDir ?? null;
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 10_000;
    this.#limits = options;
    const archived = this.stages.filter((s) => this.#fromArchive(s)).map((s) => s.input);
    if (archived.length > 0 && options.history === undefined)
      throw new InvalidArgumentError(
        `Pipeline ${this.pipeline.name} reads ${archived.join(', ')} fromArchive, but no archive is set up here`,
      );
  }

  /** Whether a stage reads a source that starts from the archive. */
  #fromArchive(stage: Stage): boolean {
    return stage.from === 1 && stagePipeline(this.pipeline, stage).source.fromArchive;
  }

  /** Source partitions, owned here, whose tasks are idle (no record for the source's idleAfter). */
  get idlePartitions(): number[] {
    return this.#runners.flatMap((r) => r.idle);
  }

  /** Tasks whose state is being restored: the pipeline is not ready while there are any. */
  get restoring(): number {
    return this.#runners.reduce((n, r) => n + r.restoring, 0);
  }

  /** The consumer groups of the pipeline's stages. */
  get groups(): string[] {
    return this.stages.map((stage) => stageGroup(this.pipeline, stage));
  }

  /** The changelog topics of the pipeline's stateful steps run here. */
  get changelogs(): string[] {
    return this.#runners.flatMap((r) => r.changelogs());
  }

  /** Records read so far, over all stages. */
  get processed(): number {
    return this.#runners.reduce((n, r) => n + r.processed, 0);
  }

  /** The tables the pipeline joins with, by topic, as read so far (for status and tests). */
  get tables(): ReadonlyMap<string, TableReader> {
    return this.#tables;
  }

  async start(): Promise<void> {
    const source = this.pipeline.source.topic;
    const bus = this.#bus;
    if (this.#registry) bindSerdes(this.pipeline, { registry: this.#registry });
    await ensureTopic(bus, this.deadLetterTopic, { partitions: 1 });
    for (const step of this.pipeline.steps)
      if (step.kind === 'toTopic') await ensureTopic(bus, step.topic, { partitions: 1 });
      else if (step.kind === 'window' && step.lateTopic)
        await ensureTopic(bus, step.lateTopic, { partitions: 1 });
    // Tables first: a task joins with a table read whole.
    for (const step of this.pipeline.steps) {
      if (step.kind !== 'join' || this.#tables.has(step.table.topic)) continue;
      const reader = new TableReader(bus, step.table, this.#logger, {
        file:
          this.#stateDir === null
            ? null
            : path.join(this.#stateDir, this.pipeline.name, `table-${step.table.topic}.mdb`),
        cacheBytes: this.#limits.cacheBytes ?? DEFAULT_CACHE_BYTES,
      });
      this.#tables.set(step.table.topic, reader);
      await reader.start();
      this.#logger.info(
        { pipeline: this.pipeline.name, table: step.table.topic, rows: reader.size },
        'table read',
      );
    }
    // Partitions of each topic a stage reads or writes: the sources', then each repartition topic's (made like the source).
    const partitions = new Map<string, number>();
    for (const stage of this.stages)
      if (stage.from === 1) partitions.set(stage.input, (await bus.describeTopic(stage.input)).partitions);
    const sourcePartitions = partitions.get(source)!;
    // A view's topic is compacted: it keeps the latest record per (key, window), the view's rows.
    for (const step of this.pipeline.steps)
      if (step.kind === 'toView')
        await ensureTopic(bus, step.topic, { partitions: sourcePartitions, compacted: true });
    for (const stage of this.stages)
      if (stage.output && !partitions.has(stage.output))
        partitions.set(
          stage.output,
          (await ensureTopic(bus, stage.output, { partitions: sourcePartitions })).partitions,
        );
    // A repartition topic's upstream tasks: one per input partition of each stage writing it, in stage order.
    const tasksOf = (stages: Stage[]) => stages.reduce((n, s) => n + partitions.get(s.input)!, 0);
    const local = (await this.#localExchange()) ? this.stages[1]! : null;
    for (const stage of this.stages) {
      if (stage === local) continue;
      // Writers of the same repartition topic before this one: their tasks' numbers come first.
      const before = this.stages.filter(
        (s) => stage.output !== null && s.output === stage.output && s.index < stage.index,
      );
      const runner = new StageRunner({
        bus,
        pipeline: this.pipeline,
        stage,
        outputPartitions: stage.output ? partitions.get(stage.output)! : 0,
        upstreamBase: tasksOf(before),
        ...(stage.from === 1 ? {} : { upstreams: tasksOf(upstreamStages(this.stages, stage)) }),
        deadLetterTopic: this.deadLetterTopic,
        stateDir: this.#stateDir,
        clock: this.#clock,
        logger: this.#logger,
        tickMs: this.#tickMs,
        purgeIntervalMs: this.#purgeIntervalMs,
        checkpointDir: this.#limits.checkpointDir ?? null,
        changelogs: this.#limits.changelogs ?? true,
        tables: (topic) => this.#tables.get(topic)!,
        checkpointIntervalMs: this.#limits.checkpointIntervalMs ?? 5 * 60_000,
        maxRecordBytes: this.#limits.maxRecordBytes ?? 1024 * 1024,
        maxPendingBytes: this.#limits.maxPendingBytes ?? 16 * 1024 * 1024,
        commitIntervalMs: this.#limits.commitIntervalMs ?? 1000,
        cacheBytes: this.#limits.cacheBytes ?? DEFAULT_CACHE_BYTES,
        local:
          local === null || stage.output !== local.input
            ? null
            : { stage: local, upstreams: tasksOf(upstreamStages(this.stages, local)) },
        ...(this.#fromArchive(stage) ? { consumer: this.#limits.history! } : {}),
      });
      for (const changelog of runner.changelogs())
        await ensureTopic(bus, changelog, changelogSpec(partitions.get(stage.input)!));
      await runner.start();
      this.#runners.push(runner);
    }
    this.#logger.info(
      { pipeline: this.pipeline.name, source, stages: this.stages.length, localExchange: local !== null },
      'pipeline started',
    );
  }

  /**
   * Whether the two stages of a pipeline cut once run in one loop (see `localExchange`). Not while
   * the repartition topic still holds records its stage has not committed (written by a run without
   * the local exchange): those go through the topic first, this run.
   */
  async #localExchange(): Promise<boolean> {
    const [first, second] = this.stages;
    if (!this.#limits.localExchange || this.stages.length !== 2 || second!.sideOf !== null) return false;
    const topic = first!.output!;
    const committed = new Map(
      (await this.#bus.committedOffsets(stageGroup(this.pipeline, second!), topic)).map((o) => [
        o.partition,
        o.offset,
      ]),
    );
    const ranges = await this.#bus.partitionOffsets(topic);
    const inFlight = ranges.some((r) => r.end > Math.max(r.start, committed.get(r.partition) ?? 0));
    if (inFlight)
      this.#logger.info(
        { pipeline: this.pipeline.name, topic },
        'records in flight in the repartition topic: its stages run apart this time',
      );
    return !inFlight;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const runner of this.#runners) await runner.stop();
    for (const reader of this.#tables.values()) await reader.stop();
  }
}

/** Hands the process's registry to every serde of a pipeline that asks for it. */
function bindSerdes(pipeline: Pipeline, context: SerdeContext): void {
  const steps = (list: readonly Step[]) => {
    for (const step of list) {
      if (step.kind === 'source' || step.kind === 'toTopic') step.serde.bind?.(context);
      else if (step.kind === 'join') step.table.serde.bind?.(context);
      else if (isTwoInput(step)) {
        step.other.source.serde.bind?.(context);
        steps(step.other.steps);
      }
    }
  };
  pipeline.source.serde.bind?.(context);
  steps(pipeline.steps);
}
