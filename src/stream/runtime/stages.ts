import type { Pipeline } from '../dsl/pipeline.ts';

/**
 * The part of a pipeline one task runs. A pipeline is cut at each `keyBy` (which always feeds a
 * window), as Kafka Streams cuts a topology at a key change: the stage before the cut sends each
 * element on to an internal repartition topic, keyed by its key, so every record of a key meets in
 * the one task that owns the key's partition, whichever source partition it came from. A pipeline
 * without a `keyBy` is one stage.
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
}

/** The stages of a pipeline, in order. */
export function planStages(pipeline: Pipeline): Stage[] {
  const cuts = pipeline.steps.flatMap((step, i) => (step.kind === 'keyBy' ? [i] : []));
  const stages: Stage[] = [];
  let input = pipeline.source.topic;
  let from = 1;
  for (const cut of [...cuts, null]) {
    const output = cut === null ? null : repartitionTopic(pipeline, cut);
    stages.push({ index: stages.length, input, from, until: cut, output });
    if (output !== null && cut !== null) {
      input = output;
      from = cut + 1;
    }
  }
  return stages;
}

/** The whole pipeline as one stage: what a single task over every partition runs (tests, benchmarks). */
export function wholePipeline(pipeline: Pipeline): Stage {
  return { index: 0, input: pipeline.source.topic, from: 1, until: null, output: null };
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
