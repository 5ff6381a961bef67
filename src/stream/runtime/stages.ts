import type { Pipeline } from '../dsl/pipeline.ts';
import { isStateful, isTwoInput } from '../dsl/steps.ts';

/**
 * The part of a pipeline one task runs. A pipeline is cut at each `keyBy` (which always feeds a
 * window), as Kafka Streams cuts a topology at a key change: the stage before the cut sends each
 * element on to an internal repartition topic, keyed by its key, so every record of a key meets in
 * the one task that owns the key's partition, whichever source partition it came from. A pipeline
 * without a `keyBy` is one stage.
 *
 * A join's other input is a stage of its own, after the pipeline's: it reads the other source, runs
 * that side's steps and writes into the repartition topic that the join's first input is cut into,
 * its records tagged as the other side, so both sides of a key meet in one task (as Kafka Streams
 * co-partitions the inputs of a join).
 */
export interface Stage {
  /** 0 for the stage that reads the source; each cut adds one. */
  index: number;
  /** The topic the stage reads: the source, or the repartition topic the stage before writes. */
  input: string;
  /** The first step run on a record read (1: the step after the source). */
  from: number;
  /** The `keyBy` step that ends the stage: its elements go to `output`; null: the stage runs to the sinks. */
  until: number | null;
  /** The repartition topic the stage writes, when it ends in a cut. */
  output: string | null;
  /**
   * For a stage that runs a join's other input: the join step's index in the pipeline. The stage's
   * steps are then that side's (see `stagePipeline`), and its records enter the join as side 1.
   */
  sideOf: number | null;
}

/** The stages of a pipeline, in order. */
export function planStages(pipeline: Pipeline): Stage[] {
  const cuts = pipeline.steps.flatMap((step, i) => (step.kind === 'keyBy' ? [i] : []));
  const stages: Stage[] = [];
  let input = pipeline.source.topic;
  let from = 1;
  for (const cut of [...cuts, null]) {
    const output = cut === null ? null : repartitionTopic(pipeline, cut);
    stages.push({ index: stages.length, input, from, until: cut, output, sideOf: null });
    if (output !== null && cut !== null) {
      input = output;
      from = cut + 1;
    }
  }
  pipeline.steps.forEach((step, i) => {
    if (!isTwoInput(step)) return;
    stages.push({
      index: stages.length,
      input: step.other.source.topic,
      from: 1,
      until: step.other.steps.length,
      // The DSL makes the step before a join a keyBy: the first input's cut.
      output: repartitionTopic(pipeline, i - 1),
      sideOf: i,
    });
  });
  return stages;
}

/** The steps a stage runs, as a pipeline: the pipeline itself, or a join's other input with its own source. */
export function stagePipeline(pipeline: Pipeline, stage: Stage): Pipeline {
  if (stage.sideOf === null) return pipeline;
  const step = pipeline.steps[stage.sideOf]!;
  if (!isTwoInput(step)) throw new TypeError(`Step ${step.name} has no second input`);
  const { source, steps } = step.other;
  return { name: pipeline.name, version: pipeline.version, source, steps: [source, ...steps] };
}

/** The steps with state a stage runs (windows, joins), by name: each has a store and a changelog. */
export function statefulSteps(pipeline: Pipeline, stage: Stage): string[] {
  const { steps } = stagePipeline(pipeline, stage);
  return steps
    .slice(stage.from, (stage.until ?? steps.length - 1) + 1)
    .flatMap((s) => (isStateful(s) ? [s.name] : []));
}

/** The stages writing a stage's input, in order: their tasks are its upstreams, numbered in this order. */
export function upstreamStages(stages: readonly Stage[], stage: Stage): Stage[] {
  return stages.filter((s) => s.output !== null && s.output === stage.input);
}

/** The whole pipeline as one stage: what a single task over every partition runs (tests, benchmarks). */
export function wholePipeline(pipeline: Pipeline): Stage {
  return { index: 0, input: pipeline.source.topic, from: 1, until: null, output: null, sideOf: null };
}

/** The internal topic after a `keyBy`: named for the pipeline and the step, as Kafka Streams names its own. */
export function repartitionTopic(pipeline: Pipeline, keyByStep: number): string {
  return `kappa-${pipeline.name}-${pipeline.steps[keyByStep]!.name}-repartition`;
}

/** A stage's consumer group: the pipeline's own for the first stage, one per stage after that. */
export function stageGroup(pipeline: Pipeline, stage: Stage): string {
  return stage.index === 0
    ? `kappa-pipeline-${pipeline.name}`
    : `kappa-pipeline-${pipeline.name}-${stage.index}`;
}
